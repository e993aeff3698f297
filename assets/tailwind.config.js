/** Tailwind CSS v3 config for Mewayz. Built by scripts/build-assets. */
/** @type {import('tailwindcss').Config} */
module.exports = {
  content: {
    // Paths are relative to this file, whatever directory the CLI runs from.
    relative: true,
    files: [
      '../templates/**/*.html',
      '../chalicelib/**/*.py',
      './app.js',
    ],
  },
  // Component variants that templates build dynamically (e.g. "alert-{{ kind }}",
  // "badge-{{ kind }}", "btn-{{ variant }}") never appear literally, so keep them.
  safelist: [
    'alert-success', 'alert-error', 'alert-info', 'alert-warning',
    'badge-success', 'badge-error', 'badge-info', 'badge-warning', 'badge-neutral',
    'btn-primary', 'btn-secondary', 'btn-ghost', 'btn-danger',
  ],
  theme: {
    extend: {
      fontFamily: {
        // System font stack only: nothing is loaded from the internet.
        sans: [
          'ui-sans-serif', 'system-ui', '-apple-system', 'BlinkMacSystemFont', '"Segoe UI"',
          'Roboto', '"Helvetica Neue"', 'Arial', '"Noto Sans"', 'sans-serif',
          '"Apple Color Emoji"', '"Segoe UI Emoji"', '"Segoe UI Symbol"',
        ],
        mono: [
          'ui-monospace', 'SFMono-Regular', 'Menlo', 'Monaco', 'Consolas',
          '"Liberation Mono"', '"Courier New"', 'monospace',
        ],
      },
      maxWidth: {
        '8xl': '88rem',
      },
    },
  },
  plugins: [],
};
