import { gunzipSync, gzipSync } from "node:zlib";
import { parse, stringify } from "yaml";

/** A `write_files` entry. */
export interface CloudConfigFile {
  readonly path: string;
  readonly content: string;
  /** Octal mode as a string, e.g. "0644" (cloud-init's schema refuses a YAML number). */
  readonly permissions: string;
  /** "user:group"; cloud-init's default is root:root. */
  readonly owner?: string;
  /** Write in cloud-init's final stage, after the users module has created `owner`. */
  readonly defer?: boolean;
  /**
   * Carry the content gzipped (cloud-init's `encoding: gz+b64`): about half the bytes of EC2's
   * 16 KB of user data for a script, at the cost of reading it in cdk.tf.json.
   */
  readonly compress?: boolean;
}

/** A `users` entry: "default" keeps the image's default user; the rest are created (a system user gets no home directory made). */
export type CloudConfigUser =
  | "default"
  | {
      readonly name: string;
      readonly system?: boolean;
      readonly shell?: string;
      readonly homedir?: string;
    };

/** The subset of cloud-config this library writes (`writeFiles` is cloud-init's `write_files`). */
export interface CloudConfig {
  readonly users?: readonly CloudConfigUser[];
  readonly writeFiles?: readonly CloudConfigFile[];
  /** Commands as argument lists: cloud-init runs them without a shell. */
  readonly runcmd?: readonly (readonly string[])[];
}

const HEADER = "#cloud-config\n";
const OCTAL_MODE = /^0[0-7]{3}$/;

/** `#cloud-config` followed by the YAML document. */
export function renderCloudConfig(config: CloudConfig): string {
  const document: Record<string, unknown> = {};
  if (config.users) document.users = config.users.map((user) => (user === "default" ? user : compact({ ...user })));
  if (config.writeFiles) {
    document.write_files = config.writeFiles.map((file) => {
      if (!OCTAL_MODE.test(file.permissions)) {
        throw new Error(
          `cloud-config: ${file.path} has permissions ${JSON.stringify(file.permissions)}; use an octal string such as "0644"`
        );
      }
      return compact({
        path: file.path,
        ...(file.compress ? { encoding: "gz+b64", content: gzipBase64(file.content) } : { content: file.content }),
        permissions: file.permissions,
        owner: file.owner,
        defer: file.defer,
      });
    });
  }
  if (config.runcmd) document.runcmd = config.runcmd;
  // Literal blocks keep PEM and script lines verbatim; lineWidth 0 never folds a long line;
  // unindented list items save two bytes on every content line of the 16 KB user data.
  return HEADER + stringify(document, { blockQuote: "literal", lineWidth: 0, indentSeq: false });
}

/** Reads what renderCloudConfig wrote (for rehearsals that lay the files out in a fake root). */
export function parseCloudConfig(text: string): CloudConfig {
  if (!text.startsWith(HEADER)) throw new Error("cloud-config: the first line must be #cloud-config");
  const document: unknown = parse(text);
  if (!isRecord(document)) throw new Error("cloud-config: the document is not a mapping");
  const unknownKeys = Object.keys(document).filter((key) => !["users", "write_files", "runcmd"].includes(key));
  if (unknownKeys.length > 0) throw new Error(`cloud-config: unsupported keys ${unknownKeys.join(", ")}`);

  return compact({
    users: optionalList(document.users, "users").map(parseUser),
    writeFiles: optionalList(document.write_files, "write_files").map(parseFile),
    runcmd: optionalList(document.runcmd, "runcmd").map((command) => {
      if (!Array.isArray(command) || !command.every((arg) => typeof arg === "string")) {
        throw new Error("cloud-config: each runcmd entry must be a list of strings");
      }
      return command as string[];
    }),
  }) as CloudConfig;
}

function parseUser(entry: unknown): CloudConfigUser {
  if (entry === "default") return entry;
  if (!isRecord(entry) || typeof entry.name !== "string") throw new Error("cloud-config: a users entry needs a name");
  return compact({
    name: entry.name,
    system: optional(entry.system, "boolean"),
    shell: optional(entry.shell, "string"),
    homedir: optional(entry.homedir, "string"),
  }) as CloudConfigUser;
}

function parseFile(entry: unknown): CloudConfigFile {
  if (!isRecord(entry) || typeof entry.path !== "string" || typeof entry.content !== "string") {
    throw new Error("cloud-config: a write_files entry needs a path and string content");
  }
  if (typeof entry.permissions !== "string" || !OCTAL_MODE.test(entry.permissions)) {
    throw new Error(`cloud-config: ${entry.path} needs permissions as an octal string such as "0644"`);
  }
  if (entry.encoding !== undefined && entry.encoding !== "gz+b64") {
    throw new Error(`cloud-config: ${entry.path} has encoding ${JSON.stringify(entry.encoding)}; only gz+b64 is written here`);
  }
  const compress = entry.encoding === "gz+b64";
  return compact({
    path: entry.path,
    content: compress ? gunzipSync(Buffer.from(entry.content, "base64")).toString("utf8") : entry.content,
    compress: compress || undefined,
    permissions: entry.permissions,
    owner: optional(entry.owner, "string"),
    defer: optional(entry.defer, "boolean"),
  }) as CloudConfigFile;
}

function optionalList(value: unknown, key: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`cloud-config: ${key} must be a list`);
  return value;
}

function optional<T extends "string" | "boolean">(value: unknown, type: T): (T extends "string" ? string : boolean) | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== type) throw new Error(`cloud-config: expected a ${type}, got ${JSON.stringify(value)}`);
  return value as T extends "string" ? string : boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Drops undefined fields and empty lists, so absent stays absent. */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))) as T;
}

/** gzip with no name and no time, and the OS byte fixed, so every platform's synth gives the same bytes. */
function gzipBase64(text: string): string {
  const gz = gzipSync(Buffer.from(text, "utf8"), { level: 9 });
  gz[9] = 255; // "unknown" OS: zlib writes its build platform's code there
  return gz.toString("base64");
}
