// A stand-in for Max's `max-api` module (Node for Max), for running device-style scripts
// under plain Node in tests. It keeps the handlers a script registers and records every
// outlet() and post() call; the test driver calls the handlers the way Max would when the
// device sends a message ("loadmodel path", "generate 0.2 3", ...).
'use strict';

const handlers = new Map();
const outlets = [];
const posts = [];

module.exports = {
  POST_LEVELS: { ERROR: 'error', INFO: 'info', WARN: 'warn' },
  MESSAGE_TYPES: { ALL: 'all', BANG: 'bang', DICT: 'dict', LIST: 'list', NUMBER: 'number' },

  addHandler(name, handler) {
    handlers.set(name, handler);
  },
  addHandlers(table) {
    for (const [name, handler] of Object.entries(table)) handlers.set(name, handler);
  },
  removeHandler(name) {
    handlers.delete(name);
  },
  outlet(...args) {
    outlets.push(args);
    return Promise.resolve();
  },
  outletBang() {
    outlets.push(['bang']);
    return Promise.resolve();
  },
  post(...args) {
    posts.push(args.map(String).join(' '));
    return Promise.resolve();
  },

  // ---- test side (not part of Max's API)
  recorded: { outlets, posts },
  handlerNames() {
    return Array.from(handlers.keys());
  },
  /** Deliver one message to the script, as Max does; resolves when its handler is done. */
  async send(name, ...args) {
    const handler = handlers.get(name);
    if (!handler) throw new Error('the script has no handler for ' + name);
    return handler(...args);
  },
};
