// Promises that settle when a condition comes true, checked whenever notify() is called.

export class Waiters {
  constructor() {
    this.waiting = new Set();
  }

  /** Resolve true once predicate() holds (checked at each notify()), false after ms. */
  waitFor(predicate, ms) {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiting.delete(waiter);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(waiter);
        resolve(false);
      }, ms);
      this.waiting.add(waiter);
    });
  }

  notify() {
    for (const waiter of [...this.waiting]) waiter();
  }
}
