import { Testing } from "../lib/cdktf";

// cdktf's matchers (toHaveResourceWithProperties, ...) take snake_case keys, as in the synthesized JSON.
Testing.setupJest();
