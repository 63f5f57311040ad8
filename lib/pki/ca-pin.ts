import { Construct } from "constructs";
import { DataResource, Op, Token } from "../cdktf";

export interface CaPinProps {
  /** SHA-256 of the CA certificate the stack is synthesized with (PkiMaterial.caFingerprintSha256). */
  readonly caFingerprintSha256: string;
  /** The PKI directory, as the user gave it: the message tells them where the CA came from. */
  readonly pkiDirectory: string;
}

/**
 * The CA a cluster was first deployed with, pinned in Terraform's state. A synth without the
 * cluster's PKI (a fresh clone, a teammate's laptop, a CI runner) makes a new CA, and with it a new
 * cluster token, new SSM parameter names and certificates the members do not trust. The guard's
 * precondition compares the two at plan time, so such a plan fails before anything reaches AWS.
 *
 * `pin` keeps its first input for ever (ignore_changes): its output is the deployed CA. To move to
 * another CA on purpose, replace the pin (`terraform apply -replace=<pin address>`), see README.
 */
export class CaPin extends Construct {
  /** The pinned fingerprint: the CA of the first deploy, read from the state. */
  readonly pinned: string;

  constructor(scope: Construct, id: string, props: CaPinProps) {
    super(scope, id);
    const input = { ca_fingerprint_sha256: props.caFingerprintSha256 };
    const pin = new DataResource(this, "pin", { input, lifecycle: { ignoreChanges: ["input"] } });
    this.pinned = Token.asString(pin.interpolationForAttribute("output.ca_fingerprint_sha256"));
    new DataResource(this, "guard", {
      input,
      lifecycle: {
        precondition: [
          {
            condition: Op.eq(this.pinned, props.caFingerprintSha256),
            errorMessage:
              `The PKI directory ${props.pkiDirectory} holds a CA with SHA-256 fingerprint ${props.caFingerprintSha256}, ` +
              `but this cluster was deployed with the CA whose fingerprint is ${this.pinned}. ` +
              `Synth ran without the cluster's PKI (a fresh clone, another machine) and made a new CA. ` +
              `Nothing was changed. Restore the PKI directory the cluster was deployed with (from your secrets store, or the machine that deployed it), ` +
              `synthesize again and deploy; to rotate the CA on purpose, see "Rotating the CA" in the README.`,
          },
        ],
      },
    });
  }
}
