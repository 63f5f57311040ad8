/** What of a service unit decides how its process runs in the lab. */
export interface ServiceUnit {
  /** `User=`. */
  readonly user: string;
  /** `Group=`; systemd then uses the user's primary group. */
  readonly group?: string;
  /** `EnvironmentFile=` (a leading "-", "ignore if missing", is dropped). */
  readonly environmentFile: string;
  /** `ExecStart=` split into argv. */
  readonly execStart: string[];
}

/**
 * Reads the `[Service]` directives the lab models. Directives that would change how the process runs
 * but that the lab cannot reproduce faithfully (privileged or variable-expanding ExecStart) are refused
 * rather than ignored.
 */
export function parseServiceUnit(text: string, where: string): ServiceUnit {
  const service = new Map<string, string[]>();
  let section = "";
  // systemd joins a line ending in a backslash with the next, the backslash becoming a space.
  for (const rawLine of text.replace(/\\\r?\n/g, " ").split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`${where}: not a directive: ${line}`);
    if (section !== "Service") continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    // An empty assignment resets a list-valued directive.
    service.set(key, value === "" ? [] : [...(service.get(key) ?? []), value]);
  }

  const single = (key: string): string | undefined => {
    const values = service.get(key) ?? [];
    if (values.length > 1) throw new Error(`${where}: the lab models one ${key}=, found ${values.length}`);
    return values[0];
  };
  const user = single("User");
  const environmentFile = single("EnvironmentFile");
  const execStart = single("ExecStart");
  if (!user) throw new Error(`${where}: no User= (the lab runs the unit as its user, never as root)`);
  if (!environmentFile) throw new Error(`${where}: no EnvironmentFile=`);
  if (!execStart) throw new Error(`${where}: no ExecStart=`);
  return {
    user,
    group: single("Group"),
    environmentFile: environmentFile.replace(/^-/, ""),
    execStart: splitExecStart(execStart, where),
  };
}

function splitExecStart(command: string, where: string): string[] {
  // "-" (ignore failure) and ":" (no expansion) do not change how the process runs; "+", "!" and "@" do.
  const prefix = /^[-:+!@]*/.exec(command)![0];
  if (/[+!@]/.test(prefix)) throw new Error(`${where}: ExecStart prefix "${prefix}" is not modelled by the lab`);
  const rest = command.slice(prefix.length);
  if (/[$%]/.test(rest)) throw new Error(`${where}: ExecStart uses $ or % expansion, not modelled by the lab`);
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|((?:[^\s"'\\]|\\.)+)/g;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    words.push(m[2] ?? (m[1] ?? m[3]).replace(/\\(.)/g, "$1"));
  }
  if (words.length === 0 || !words[0].startsWith("/")) throw new Error(`${where}: ExecStart must start with an absolute path`);
  return words;
}
