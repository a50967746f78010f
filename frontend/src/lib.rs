//! The browser entry point: hydrates the server-rendered page with the `app` crate built
//! with its `hydrate` feature, and tells the user when the app has stopped. Nothing else
//! lives here.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        offer_reload();
    }));
    // `hydrate_lazy`: the account pages are lazy routes, whose chunks may have to load first.
    leptos::mount::hydrate_lazy(app::App);
}

/// After a panic nothing on the page answers any more (the release build aborts). The
/// likeliest cause is a page's WASM chunk that could not be loaded: the network dropped, or a
/// new version was deployed since this tab loaded. A reload fixes both, so offer one. Plain
/// DOM: the app's own code can no longer run.
fn offer_reload() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let (Some(body), Ok(notice)) = (document.body(), document.create_element("div")) else { return };
    notice.set_class_name("notice");
    let _ = notice.set_attribute("role", "alert");
    // rel="external": a full page load, which the router (dead by now) must not intercept.
    notice.set_inner_html(
        "<p>This page stopped working. A new version of the site may have been published, \
         or the connection dropped.</p><a href=\"\" rel=\"external\">Reload the page</a>",
    );
    let _ = body.prepend_with_node_1(&notice);
}
