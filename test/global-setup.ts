// The lab's machines boot cached Debian images. Building them (debootstrap, once per recipe) takes
// about two minutes for the containers' and five for the VMs', longer than any one test may: it is
// done here, before the suites start.
import { ensureMachineImage } from "../lib/lab";
import { ensureVmImage } from "../lib/lab/machine/vm-image";
import { startTempGuard } from "./support/temp-guard";

export default async function globalSetup(): Promise<void> {
  void startTempGuard();
  if (process.getuid?.() !== 0) return; // the lab suites refuse a non-root host themselves, naming why
  const log = (line: string) => void process.stderr.write(`${line}\n`);
  await ensureMachineImage({ log });
  await ensureVmImage({ log });
}
