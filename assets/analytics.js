/*
 * Mewayz's tracking script for published sites (under 1.5 KB once scripts/build-assets
 * has minified it; the sites area inlines it, with the site's key and the collect
 * address, allowed by its hash in the page's CSP).
 *
 * A pageview when the page loads (or when a prerendered page is first shown) and on every
 * history navigation (pushState, back/forward). Each goes out with navigator.sendBeacon
 * as a text/plain string, so no CORS preflight is needed. It sends the page's URL, the
 * referrer (on the first pageview only: later ones are navigation inside the site) and
 * the window's width. No cookies, no localStorage, nothing kept between pages.
 */
(function () {
  var key = '__MEWAYZ_SITE_KEY__';
  var endpoint = '__MEWAYZ_ENDPOINT__';
  var doc = document;
  var last = null;
  var first = true;

  function send() {
    var url = location.href.split('#')[0];
    if (url === last) {
      return;
    }
    last = url;
    var body = JSON.stringify({
      site: key,
      url: url,
      referrer: first ? doc.referrer : '',
      width: window.innerWidth,
    });
    first = false;
    try {
      if (!navigator.sendBeacon(endpoint, body)) {
        throw 0;
      }
    } catch (e) {
      try {
        fetch(endpoint, { method: 'POST', body: body, keepalive: true, mode: 'no-cors' });
      } catch (ignored) {}
    }
  }

  var history = window.history;
  var push = history.pushState;
  if (push) {
    history.pushState = function () {
      push.apply(this, arguments);
      send();
    };
    window.addEventListener('popstate', send);
  }

  if (doc.visibilityState === 'prerender') {
    doc.addEventListener('visibilitychange', function shown() {
      if (doc.visibilityState !== 'prerender') {
        doc.removeEventListener('visibilitychange', shown);
        send();
      }
    });
  } else {
    send();
  }
})();
