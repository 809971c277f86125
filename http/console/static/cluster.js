// latchkey console: Cluster and tasks. Tasks publish no events on the
// stream while they progress, nor do nodes' heartbeats, so the page's
// live part (#live) is asked for again after the time the server put in
// its data-poll (1 s while a task runs or is due, up to 5 s otherwise; 0:
// never, a task that has ended) and put in place when it changed. The
// schedule form shows the fields of the kind chosen.
(() => {
  const say = document.getElementById('live-say');
  let timer;
  const schedule = () => {
    const live = document.getElementById('live');
    const ms = live ? Number(live.dataset.poll) : 0;
    if (ms > 0) timer = setTimeout(refresh, ms);
  };
  const refresh = () => {
    const live = document.getElementById('live');
    fetch(live.dataset.src, { credentials: 'same-origin', redirect: 'error' })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
      .then((html) => {
        const next = new DOMParser().parseFromString(html, 'text/html').getElementById('live');
        if (!next) return;
        if (next.innerHTML === live.innerHTML) {
          live.dataset.poll = next.dataset.poll;
          return;
        }
        const focused = document.activeElement && document.activeElement.id; // kept where it was
        live.replaceWith(next);
        const again = focused && document.getElementById(focused);
        if (again) again.focus();
        if (say && next.dataset.say && next.dataset.say !== live.dataset.say) say.textContent = next.dataset.say;
      })
      .catch(() => {}) // asked again at the next turn
      .finally(schedule);
  };
  schedule();
  window.addEventListener('pagehide', () => clearTimeout(timer));

  const form = document.getElementById('taskform');
  if (!form) return;
  const show = () => {
    const kind = form.querySelector('input[name=kind]:checked');
    document.getElementById('report-fields').hidden = kind && kind.value !== 'report';
    document.getElementById('reconcile-fields').hidden = kind && kind.value !== 'reconcile';
    document.getElementById('at').disabled = !document.getElementById('when-at').checked;
  };
  form.addEventListener('change', show);
  show();
})();
