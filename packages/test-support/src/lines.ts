/**
 * A Logger (debug/info/warn/error, the shape of the client's and the coordinator's)
 * that records `LEVEL message` lines and lets a test wait for one: no sleeps, every
 * wait is on a line. `levels: 'lower'` writes `debug message` etc. instead.
 */
interface Waiter {
  readonly re: RegExp;
  readonly resolve: (line: string) => void;
}

export class Lines {
  readonly lines: string[] = [];
  readonly #lower: boolean;
  #waiters: Waiter[] = [];

  constructor(levels: 'upper' | 'lower' = 'upper') {
    this.#lower = levels === 'lower';
  }

  readonly debug = (m: string): void => this.#add('DEBUG', m);
  readonly info = (m: string): void => this.#add('INFO', m);
  readonly warn = (m: string): void => this.#add('WARN', m);
  readonly error = (m: string): void => this.#add('ERROR', m);

  /** The first line (already logged or to come) matching `re`. */
  waitFor(re: RegExp): Promise<string> {
    return this.waitForCount(re, 1);
  }

  /** The `n`th line (already logged or to come) matching `re`. */
  waitForCount(re: RegExp, n: number): Promise<string> {
    const hits = this.lines.filter((l) => re.test(l));
    if (hits.length >= n) return Promise.resolve(hits[n - 1]!);
    let seen = hits.length;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        re,
        resolve: (line) => {
          if (++seen >= n) resolve(line);
          else this.#waiters.push(waiter);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  matching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }

  #add(level: string, message: string): void {
    const line = `${this.#lower ? level.toLowerCase() : level} ${message}`;
    this.lines.push(line);
    const hit = this.#waiters.filter((w) => w.re.test(line));
    this.#waiters = this.#waiters.filter((w) => !hit.includes(w));
    for (const w of hit) w.resolve(line);
  }
}
