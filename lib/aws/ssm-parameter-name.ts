// SSM's naming rules (PutParameter API reference). The resolve step checks a member's key
// parameter name against them at synth time: a bad name would otherwise only fail at
// `terraform apply`, or worse, on the VM while it waits for its key.
const MAX_LENGTH = 1011;
const MAX_DEPTH = 15;

/** The SecureString that holds a member's private key: "/<initialClusterToken>/<member name>". */
export function memberKeyParameterName(initialClusterToken: string, memberName: string): string {
  return `/${initialClusterToken}/${memberName}`;
}

/** What is wrong with `name` as an SSM Parameter Store name, or undefined when nothing is. */
export function ssmParameterNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "must not be empty";
  if (name.length > MAX_LENGTH) return `is ${name.length} characters, over SSM's ${MAX_LENGTH}`;
  if (!/^[A-Za-z0-9_.\-/]+$/.test(name)) return 'may only use letters, digits, "_", ".", "-" and "/"';
  if (name.includes("/")) {
    if (!name.startsWith("/")) return 'has a "/", so it must start with one, e.g. "/etcd-cluster/etcd_node1"';
    const levels = name.slice(1).split("/");
    if (levels.some((level) => level === "")) return 'has an empty level ("//" or a trailing "/")';
    if (levels.length > MAX_DEPTH) return `is ${levels.length} levels deep, over SSM's ${MAX_DEPTH}`;
  }
  if (/^\/?(aws|ssm)/i.test(name)) return 'must not start with "aws" or "ssm", which SSM reserves';
  return undefined;
}
