import { memberKeyParameterName, ssmParameterNameProblem } from "../../lib/aws/ssm-parameter-name";

describe("SSM parameter names", () => {
  test("GIVEN a token and a member THEN the key parameter is /<token>/<member>, a name SSM takes", () => {
    const name = memberKeyParameterName("etcd-0123456789abcdef", "etcd_node1");
    expect(name).toBe("/etcd-0123456789abcdef/etcd_node1");
    expect(ssmParameterNameProblem(name)).toBeUndefined();
  });

  test.each([
    ["an empty name", "", /must not be empty/],
    ["a path without its leading /", "etcd/node1/key", /must start with one/],
    ["an empty level", "/etcd//key", /empty level/],
    ["a trailing /", "/etcd/key/", /empty level/],
    ["a space", "/etcd/node 1/key", /may only use letters/],
    ["shell syntax", "/etcd/$(reboot)", /may only use letters/],
    ["SSM's reserved aws prefix", "/aws/etcd/key", /must not start with "aws" or "ssm"/],
    ["SSM's reserved ssm prefix, in capitals", "SSM-etcd-key", /must not start with "aws" or "ssm"/],
    ["16 levels", `/${"a/".repeat(15)}key`, /16 levels deep/],
    ["1012 characters", `/${"k".repeat(1011)}`, /over SSM's 1011/],
  ])("GIVEN a name with %s THEN the problem says what SSM refuses", (_what, name, message) => {
    expect(ssmParameterNameProblem(name)).toMatch(message);
  });
});
