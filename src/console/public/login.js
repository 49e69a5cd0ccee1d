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
  if (res.status === 204) location.assign('/console');
  else if (res.status === 429) error.textContent = 'Too many failed attempts: wait a minute.';
  else error.textContent = 'Wrong token.';
});
