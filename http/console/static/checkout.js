// latchkey console: a check-out's status, live. The check-out stream
// (/console/events) says when it changed; its state call says what.
(() => {
  const status = document.getElementById('co-status');
  if (!status) return;
  const id = status.dataset.id;
  const show = (st) => {
    status.textContent = st.words;
    status.dataset.status = st.status;
    document.getElementById('checkinform').hidden = !st.can_check_in;
    document.getElementById('cancelform').hidden = !st.can_cancel;
  };
  const refresh = () =>
    fetch(`/checkouts/${encodeURIComponent(id)}/state`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : null))
      .then((st) => st && show(st))
      .catch(() => {});
  const events = new EventSource('/console/events?topics=checkouts');
  events.onopen = refresh; // and whatever changed before the stream was open
  for (const a of ['checkout.deliver', 'checkout.reply', 'checkout.checkin', 'checkout.expire', 'checkout.extend', 'checkout.request']) {
    events.addEventListener(a, (e) => {
      try {
        if (JSON.parse(e.data).target === id) refresh();
      } catch (_) { /* not ours */ }
    });
  }
  window.addEventListener('pagehide', () => events.close());
})();
