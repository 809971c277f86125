// latchkey console: a request's status and steps, live. When one of the
// request's events (or a check-out's) arrives on /console/events, the
// live part is fetched again and replaced; bursts cost one fetch. An
// event that arrives while a fetch is under way is not dropped: that
// fetch may have read the request before the change, so another follows
// it.
(() => {
  const live = document.getElementById('request-live');
  if (!live) return;
  const id = live.dataset.id;
  let timer = null; // a fetch is due (it will see what changed until it starts)
  let busy = false; // a fetch is under way
  let again = false; // something changed while it was
  const refresh = () => {
    if (busy) { again = true; return; }
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      busy = true;
      fetch(`/requests/${encodeURIComponent(id)}/live`, { credentials: 'same-origin' })
        .then((r) => (r.ok ? r.text() : null))
        .then((html) => { if (html !== null) live.innerHTML = html; })
        .catch(() => {})
        .finally(() => {
          busy = false;
          if (again) { again = false; refresh(); }
        });
    }, 100);
  };
  const events = new EventSource('/console/events?topics=requests,checkouts');
  events.onopen = refresh; // and whatever changed before the stream was open
  const ours = (e) => {
    try {
      const ev = JSON.parse(e.data);
      if (ev.target === id || (ev.details && ev.details.request === id) || ev.action.startsWith('checkout.')) refresh();
    } catch (_) { /* not ours */ }
  };
  for (const a of ['request.create', 'request.decide', 'request.provision', 'request.active', 'request.done',
    'request.cancel', 'request.expire', 'request.fail', 'checkout.reply', 'checkout.checkin', 'checkout.expire']) {
    events.addEventListener(a, ours);
  }
  window.addEventListener('pagehide', () => events.close());
})();
