/** A PKI problem the user can fix; the message names the file or input, what is wrong and the fix. */
export class PkiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PkiError";
  }
}
