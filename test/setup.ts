import "cdktf/lib/testing/adapters/jest"; // types of the matchers below
import { Testing } from "../lib/cdktf";

// cdktf's matchers (toHaveResourceWithProperties, ...) take snake_case keys, as in the synthesized JSON.
Testing.setupJest();
