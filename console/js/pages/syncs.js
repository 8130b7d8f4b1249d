// The syncs page (built next).
import { html } from '../components.js';

export default function Page() {
  return html`<h1>Syncs</h1>
    <p class="muted">Not built yet.</p>`;
}
