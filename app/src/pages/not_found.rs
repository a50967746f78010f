use leptos::prelude::*;
use leptos_meta::Title;

/// Rendered for any unknown path; the server answers it with status 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <Title text="Page not found · Leptos Auth"/>
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to the home page"</a> "."</p>
        </section>
    }
}
