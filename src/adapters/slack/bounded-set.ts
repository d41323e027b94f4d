/** A set that keeps only its `limit` most recently added members: what a process remembers without growing for ever. */
export class BoundedSet {
  readonly #members = new Set<string>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  has(member: string): boolean {
    return this.#members.has(member);
  }

  add(member: string): void {
    this.#members.delete(member);
    this.#members.add(member);
    if (this.#members.size > this.#limit) this.#members.delete(this.#members.values().next().value as string);
  }
}
