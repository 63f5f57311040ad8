// Terraform reads every string in cdk.tf.json as a template: "${...}" interpolates and "%{...}"
// is a directive. Literal text such as a shell script's ${VAR} must be escaped to reach the VM
// unchanged, and anything reading the synthesized JSON offline must undo the escape.

// Function replacements: in a replacement string, "$$" itself means "$".
export function escapeTemplate(text: string): string {
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

export function unescapeTemplate(text: string): string {
  return text.replace(/\$\$\{/g, () => "${").replace(/%%\{/g, () => "%{");
}
