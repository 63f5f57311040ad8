// The lab's machines boot cached Debian images. Building them (debootstrap, once per recipe) takes
// about two minutes for the containers' and five for the VMs', longer than any one test may: it is
// done here, before the suites start. The temporary-directory check starts after it: it is about
// what the tests leave, and the image build is none of them.
import { ensureMachineImage } from "../lib/lab";
import { ensureVmImage } from "../lib/lab/machine/vm-image";
import { startTempGuard } from "./support/temp-guard";

export default async function globalSetup(): Promise<void> {
  // Non-root: the lab suites refuse the host themselves, naming why.
  if (process.getuid?.() === 0) {
    const log = (line: string) => void process.stderr.write(`${line}\n`);
    await ensureMachineImage({ log });
    await ensureVmImage({ log });
  }
  void startTempGuard();
}
