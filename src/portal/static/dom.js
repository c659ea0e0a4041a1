/**
 * `h(tag, props, ...children)`: elements built in code, never from HTML strings (so no text a person typed or a
 * server sent is ever parsed as markup, and the page needs no inline script or style for its CSP).
 * Props: `class`, `text`, `on<Event>` listeners, `dataset`, booleans (`hidden`, `disabled`) and attributes.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'text') element.textContent = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (value === true) element.setAttribute(key, '');
    else if (key in element && typeof element[key] !== 'function' && !key.includes('-')) element[key] = value;
    else element.setAttribute(key, String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** A button that runs `action` and shows what went wrong in `report` (errors in words, never uncaught). */
export function actionButton(text, action, report, props = {}) {
  const button = h('button', { type: 'button', text, ...props });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      report(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A polite status line (`role=status`) or an alert (`role=alert`) whose text can be set. */
export function statusLine(className, role = 'status') {
  return h('p', { class: className, role, 'aria-live': role === 'alert' ? 'assertive' : 'polite' });
}

export function clear(element, ...children) {
  element.replaceChildren(...children.flat().filter(Boolean));
  return element;
}
