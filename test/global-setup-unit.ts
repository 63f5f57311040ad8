// The unit-only runs (the cdktn run): no lab images, only the temporary-directory check.
import { startTempGuard } from "./support/temp-guard";

export default function globalSetup(): void {
  void startTempGuard();
}
