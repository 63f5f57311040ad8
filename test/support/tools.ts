import { spawnSync } from "child_process";

/**
 * Path of a command the test needs. A missing tool fails the test (it never skips), with the
 * Debian package that provides it, so a machine without it cannot pass by accident.
 */
export function requireTool(command: string, debianPackage: string): string {
  const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", command], { encoding: "utf8" });
  if (found.status !== 0) throw new Error(`${command} is not installed: apt-get install ${debianPackage}`);
  return found.stdout.trim();
}
