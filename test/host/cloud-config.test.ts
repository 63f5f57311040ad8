import { type CloudConfig, parseCloudConfig, renderCloudConfig } from "../../lib/host/cloud-config";

const CONFIG: CloudConfig = {
  users: ["default", { name: "svc", system: true, shell: "/sbin/nologin", homedir: "/var/lib/svc" }],
  writeFiles: [
    { path: "/etc/svc/a.conf", content: "line 1\n  indented: line 2\n# not a comment\n", permissions: "0644" },
    {
      path: "/etc/svc/key.pem",
      content: "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n",
      permissions: "0600",
      owner: "svc:svc",
      defer: true,
    },
    { path: "/etc/svc/no-newline", content: "x: y", permissions: "0400" },
  ],
  runcmd: [["/usr/local/sbin/setup", "--flag", "a b"]],
};

describe("renderCloudConfig", () => {
  test("writes a #cloud-config document in cloud-init's spelling, with string permissions and literal blocks", () => {
    // GIVEN users, files and a command WHEN rendered
    const text = renderCloudConfig(CONFIG);
    // THEN the header, key names and quoting are what cloud-init expects
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toContain("write_files:");
    expect(text).toContain("- default\n");
    expect(text).toContain('permissions: "0600"');
    expect(text).not.toMatch(/permissions: 0/);
    expect(text).toContain("content: |\n    -----BEGIN KEY-----\n    AAAA\n");
    expect(text).toContain("owner: svc:svc\n  defer: true");
    expect(text).toMatchSnapshot();
  });

  test("reads back what it wrote, file contents byte for byte", () => {
    // GIVEN rendered cloud-config WHEN parsed THEN it is the config it came from
    expect(parseCloudConfig(renderCloudConfig(CONFIG))).toEqual(CONFIG);
  });

  test.each(["644", "0o644", "755 ", "0888"])("refuses permissions %p", (permissions) => {
    // GIVEN a mode cloud-init would misread WHEN rendered THEN it throws
    expect(() => renderCloudConfig({ writeFiles: [{ path: "/x", content: "", permissions }] })).toThrow(/octal string such as "0644"/);
  });
});

describe("parseCloudConfig", () => {
  test.each([
    ["a missing header", "users: [default]\n", /first line must be #cloud-config/],
    ["keys it does not handle", "#cloud-config\nbootcmd: [[ls]]\n", /unsupported keys bootcmd/],
    ["numeric permissions", "#cloud-config\nwrite_files:\n- path: /x\n  content: y\n  permissions: 0644\n", /octal string/],
    ["a file without content", "#cloud-config\nwrite_files:\n- path: /x\n  permissions: '0644'\n", /needs a path and string content/],
    ["a shell-string runcmd", "#cloud-config\nruncmd:\n- echo hi\n", /list of strings/],
    ["a user without a name", "#cloud-config\nusers:\n- system: true\n", /needs a name/],
  ])("refuses %s", (_what, text, message) => {
    // GIVEN cloud-config outside what this library writes WHEN parsed THEN it throws, naming the problem
    expect(() => parseCloudConfig(text)).toThrow(message);
  });
});
