import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { checkToken, token } from './api.js';
import { EffectsView } from './effects.js';
import { RolloutList, RolloutView } from './rollouts.js';
import { SessionSearch, SessionView } from './sessions.js';
import { ErrorBox, html } from './ui.js';

function parseHash() {
  const [p, q = ''] = (location.hash.replace(/^#/, '') || '/rollouts').split('?');
  const parts = p.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: Object.fromEntries(new URLSearchParams(q)) };
}

function Login({ onDone }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await checkToken(value.trim());
      token.set(value.trim());
      onDone();
    } catch (err) {
      setError(
        err.status === 401 || err.status === 403
          ? {
              code: err.code,
              message: 'That token was refused: the dashboard needs the admin token (BATON_ADMIN_TOKEN).',
            }
          : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <h1>Baton dashboard</h1>
    <form onSubmit=${submit}>
      <label for="token">Admin token</label>
      <input
        id="token"
        name="token"
        type="password"
        autocomplete="off"
        required
        value=${value}
        onInput=${(e) => setValue(e.target.value)}
      />
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
      <p class="muted">
        Kept in this browser tab's session storage only, sent as a bearer token to the admin API.
      </p>
    </form>
    <${ErrorBox} error=${error} />
  </main>`;
}

function App() {
  const [route, setRoute] = useState(parseHash());
  const [signedIn, setSignedIn] = useState(Boolean(token.get()));
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  if (!signedIn) return html`<${Login} onDone=${() => setSignedIn(true)} />`;
  const [section, id] = route.parts;
  const link = (href, label, name) =>
    html`<a href=${href} aria-current=${section === name ? 'page' : undefined}>${label}</a>`;
  let view;
  if (section === 'sessions')
    view = id ? html`<${SessionView} id=${id} />` : html`<${SessionSearch} query=${route.query} />`;
  else if (section === 'effects') view = html`<${EffectsView} query=${route.query} />`;
  else if (section === 'rollouts' || section === undefined)
    view = id ? html`<${RolloutView} id=${id} />` : html`<${RolloutList} />`;
  else view = html`<${ErrorBox} error=${{ message: `no page ${location.hash}` }} />`;
  return html`<header class="top">
      <h1>Baton</h1>
      <nav aria-label="Sections">
        ${link('#/rollouts', 'Rollouts', 'rollouts')} ${link('#/sessions', 'Sessions', 'sessions')}
        ${link('#/effects', 'Effects', 'effects')}
      </nav>
      <span class="spacer"></span>
      <button type="button" onClick=${() => (token.clear(), setSignedIn(false))}>Sign out</button>
    </header>
    <main>${view}</main>`;
}

const root = document.getElementById('root');
root.textContent = '';
render(html`<${App} />`, root);
