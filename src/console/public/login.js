// Exchanges the admin token for a session cookie (HttpOnly: this script never sees it).
const form = document.getElementById('login-form');
const error = document.getElementById('login-error');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  const token = form.elements.token.value;
  const res = await fetch('/console/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
  });
  form.elements.token.value = '';
  if (res.status === 204) {
    // back to the call the link named (a CallSid only: never a URL of someone else's choosing)
    const call = new URLSearchParams(location.search).get('call');
    location.assign(call && /^CA[0-9a-f]{32}$/.test(call) ? `/console?call=${call}` : '/console');
  } else if (res.status === 429) error.textContent = 'Too many failed attempts: wait a minute.';
  else error.textContent = 'Wrong token.';
});
