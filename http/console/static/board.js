// latchkey console: the sessions board, live. The sessions stream
// (/console/events) says that a session changed; the board's rows route
// (/sessions/rows, with the page's own filters) says how things stand.
// A burst of events costs at most two refreshes a second.
(() => {
  const board = document.getElementById('board');
  if (!board) return;
  const gap = 500; // ms between two refreshes at least
  let busy = false;
  let pending = false;
  let timer = null;
  let last = 0;
  let count = 0;
  const refresh = () => {
    if (busy) { pending = true; return; }
    const wait = last + gap - Date.now();
    if (wait > 0) {
      if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, wait);
      return;
    }
    busy = true;
    last = Date.now();
    fetch('/sessions/rows' + window.location.search, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => {
        if (html === null) return;
        const focused = document.activeElement && board.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
        board.innerHTML = html;
        board.dataset.refreshes = String(++count);
        if (focused) {
          const again = board.querySelector(`a[href="${CSS.escape(focused)}"]`);
          if (again) again.focus();
        }
      })
      .catch(() => {})
      .finally(() => {
        busy = false;
        if (pending) { pending = false; refresh(); }
      });
  };
  const events = new EventSource('/console/events?topics=sessions');
  events.onopen = refresh; // and whatever changed before the stream was open
  for (const a of ['session.login', 'session.lock', 'session.unlock', 'session.logout', 'session.logoff', 'session.expired',
    'session.failed', 'session.limit', 'session.clash', 'session.standalone', 'session.standalone_unknown']) {
    events.addEventListener(a, refresh);
  }
  // An agent's polls (online, last seen) are not events: look again now and then.
  setInterval(refresh, 30000);
  window.addEventListener('pagehide', () => events.close());
})();
