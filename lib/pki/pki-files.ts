// The PKI directory's file names, in cfssl's naming (`cfssljson -bare <name>`). Everything that
// names a file in the directory, from the PkiDirectory that writes them to the provisioners and
// outputs that point etcdctl at them, takes the name from here.

/** The CA's and the admin client certificate's base names. */
export const CA = "ca";
export const ADMIN = "admin";

/** `<name>.pem`: a certificate. */
export function certFile(name: string): string {
  return `${name}.pem`;
}

/** `<name>-key.pem`: its private key. */
export function keyFile(name: string): string {
  return `${name}-key.pem`;
}

/** Both files a member, the CA or the admin owns. */
export function filesOf(name: string): [string, string] {
  return [certFile(name), keyFile(name)];
}
