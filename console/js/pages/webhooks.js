// The webhooks page (built next).
import { html } from '../components.js';

export default function Page() {
  return html`<h1>Webhooks</h1>
    <p class="muted">Not built yet.</p>`;
}
