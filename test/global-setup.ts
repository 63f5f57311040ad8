// The lab's machines boot one cached Debian image. Building it (debootstrap, once per recipe) takes
// about two minutes, longer than any one test may: it is done here, before the suites start.
import { ensureMachineImage } from "../lib/lab";

export default async function globalSetup(): Promise<void> {
  if (process.getuid?.() !== 0) return; // the lab suites refuse a non-root host themselves, naming why
  await ensureMachineImage({ log: (line) => process.stderr.write(`${line}\n`) });
}
