import { escapeTemplate, unescapeTemplate } from "../../lib/terraform-string";
import { instanceOf, synthCluster, userDataOf } from "../support/synth";
import { terraformOutputs } from "../support/terraform";
import { temporaryDirectory as tempDir } from "../support/temp";

// Terraform itself evaluates the escaped user data (an output needs no provider, so this runs
// offline) and must hand back exactly the cloud-config the renderers produced.
describe("user data survives Terraform's template evaluation", () => {
  test("GIVEN the synthesized user_data of etcd_node1 WHEN terraform evaluates it THEN it equals the rendered cloud-config", () => {
    // GIVEN the real user data, and text full of what Terraform would otherwise interpolate
    const { json } = synthCluster();
    // The one reference it holds, the member's data volume id, made a value Terraform has without AWS.
    const volumeReference = /\$\{aws_ebs_volume\.[^}]+\}/;
    const userData = (instanceOf(json, "etcd_node1").user_data as string).replace(volumeReference, "${terraform_data.volume.output}");
    const tricky = 'echo "${HOME}" %{ if true }x%{ endif } $${kept} 100% $HOME';
    const dir = tempDir("tf-template-");
    // WHEN terraform evaluates both
    const outputs = terraformOutputs(
      dir,
      {
        resource: { terraform_data: { volume: { input: "vol-0123456789abcdef0" } } },
        output: { user_data: { value: userData }, tricky: { value: escapeTemplate(tricky) } },
      },
      ["user_data", "tricky"]
    );
    // THEN
    expect(outputs.user_data).toBe(userDataOf(json, "etcd_node1").replace(volumeReference, "vol-0123456789abcdef0"));
    expect(outputs.tricky).toBe(tricky);
  });

  test.each(["${HOME}", "%{ if x }", "$${already}", "plain $HOME", "100%"])("escape then unescape gives back %s", (text) => {
    expect(unescapeTemplate(escapeTemplate(text))).toBe(text);
  });
});
