import { finishTempGuard } from "./support/temp-guard";

export default function globalTeardown(): void {
  finishTempGuard();
}
