import type { Figure } from "./run";

// Filled in once the lab can run a synthesized stack.
export async function benchLab(): Promise<Figure[]> {
  return [];
}
