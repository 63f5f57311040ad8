// The cdktn run's snapshots: see snapshot-resolver.js.
const { resolverFor } = require("./snapshot-resolver");

module.exports = resolverFor("cdktn");
