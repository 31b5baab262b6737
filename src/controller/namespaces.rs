//! Namespaced mode (`--watch-namespace`): one watch per namespace, merged into the single event
//! stream that one reflector store and one `Controller` follow.
//!
//! A reflector store treats `Init .. InitDone` as "this is now everything": merging the raw
//! streams of two namespaces would let the second namespace's initial list replace the first
//! one's objects. [`merge`] therefore keeps each namespace's settled objects and, whenever one
//! namespace (re)lists, emits one combined `Init`, `InitApply` for the objects of every
//! namespace, `InitDone`; the first combined list waits for every namespace, so the store is
//! ready only once all of them are synced. Applies and deletes pass through once all
//! namespaces have listed.

use std::collections::BTreeMap;

use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::watcher::{self, Event};

/// The namespaces to watch: the flag's values, trimmed, empty ones dropped, each once, in
/// order. Empty: every namespace (cluster-wide mode).
pub fn normalise(namespaces: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ns in namespaces
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
    {
        if !out.iter().any(|o| o == ns) {
            out.push(ns.to_string());
        }
    }
    out
}

/// One namespace's objects by name: those of its last complete list plus later changes
/// (`settled`, `None` until its first list is complete), and a list in progress.
struct Namespace<K> {
    settled: Option<BTreeMap<String, K>>,
    listing: Option<BTreeMap<String, K>>,
}

struct Merger<K> {
    namespaces: Vec<Namespace<K>>,
}

type Item<K> = Result<Event<K>, watcher::Error>;

impl<K: kube::Resource + Clone> Merger<K> {
    fn new(count: usize) -> Self {
        Merger {
            namespaces: (0..count)
                .map(|_| Namespace {
                    settled: None,
                    listing: None,
                })
                .collect(),
        }
    }

    fn all_settled(&self) -> bool {
        self.namespaces.iter().all(|n| n.settled.is_some())
    }

    /// The combined list of every namespace's settled objects.
    fn relist(&self) -> Vec<Item<K>> {
        let mut out = vec![Ok(Event::Init)];
        for ns in &self.namespaces {
            for obj in ns.settled.iter().flat_map(BTreeMap::values) {
                out.push(Ok(Event::InitApply(obj.clone())));
            }
        }
        out.push(Ok(Event::InitDone));
        out
    }

    fn handle(&mut self, index: usize, item: Item<K>) -> Vec<Item<K>> {
        let event = match item {
            Ok(event) => event,
            Err(e) => return vec![Err(e)],
        };
        let Some(ns) = self.namespaces.get_mut(index) else {
            return Vec::new();
        };
        match event {
            Event::Init => {
                ns.listing = Some(BTreeMap::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                ns.listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(obj.name_any(), obj);
                Vec::new()
            }
            Event::InitDone => {
                ns.settled = Some(ns.listing.take().unwrap_or_default());
                if self.all_settled() {
                    self.relist()
                } else {
                    Vec::new()
                }
            }
            Event::Apply(obj) => {
                ns.settled
                    .get_or_insert_with(BTreeMap::new)
                    .insert(obj.name_any(), obj.clone());
                if self.all_settled() {
                    vec![Ok(Event::Apply(obj))]
                } else {
                    Vec::new()
                }
            }
            Event::Delete(obj) => {
                if let Some(settled) = ns.settled.as_mut() {
                    settled.remove(&obj.name_any());
                }
                if self.all_settled() {
                    vec![Ok(Event::Delete(obj))]
                } else {
                    Vec::new()
                }
            }
        }
    }
}

/// Merges the watch streams of several namespaces (one per namespace, in any order) into one
/// stream that a single reflector store can follow (see the module documentation).
pub fn merge<K, S>(streams: Vec<S>) -> impl Stream<Item = Item<K>> + Send
where
    K: kube::Resource + Clone + Send + 'static,
    S: Stream<Item = Item<K>> + Send + 'static,
{
    let mut merger = Merger::new(streams.len());
    let tagged = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.map(move |item| (i, item)).boxed())
        .collect::<Vec<_>>();
    futures::stream::select_all(tagged)
        .flat_map(move |(i, item)| futures::stream::iter(merger.handle(i, item)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;

    fn cm(ns: &str, name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(store: &reflector::Store<ConfigMap>) -> Vec<String> {
        let mut v: Vec<String> = store
            .state()
            .iter()
            .map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()))
            .collect();
        v.sort();
        v
    }

    fn apply_all(
        writer: &mut reflector::store::Writer<ConfigMap>,
        merger: &mut Merger<ConfigMap>,
        events: Vec<(usize, Event<ConfigMap>)>,
    ) {
        for (i, e) in events {
            for out in merger.handle(i, Ok(e)) {
                writer.apply_watcher_event(&out.unwrap());
            }
        }
    }

    #[test]
    fn one_namespace_relisting_keeps_the_others_objects() {
        let mut writer = reflector::store::Writer::<ConfigMap>::default();
        let store = writer.as_reader();
        let mut merger = Merger::new(2);
        apply_all(
            &mut writer,
            &mut merger,
            vec![
                (0, Event::Init),
                (0, Event::InitApply(cm("a", "one"))),
                (0, Event::InitDone),
                // Namespace a changes before b has listed: kept, not yet published.
                (0, Event::Apply(cm("a", "two"))),
            ],
        );
        assert!(
            names(&store).is_empty(),
            "not ready before every namespace listed"
        );
        apply_all(
            &mut writer,
            &mut merger,
            vec![
                (1, Event::Init),
                (1, Event::InitApply(cm("b", "three"))),
                (1, Event::InitDone),
            ],
        );
        assert_eq!(names(&store), ["a/one", "a/two", "b/three"]);
        // b relists without "three" (deleted while disconnected) and with "four".
        apply_all(
            &mut writer,
            &mut merger,
            vec![
                (1, Event::Init),
                (1, Event::InitApply(cm("b", "four"))),
                (1, Event::InitDone),
                (0, Event::Delete(cm("a", "one"))),
                (0, Event::Apply(cm("a", "five"))),
            ],
        );
        assert_eq!(names(&store), ["a/five", "a/two", "b/four"]);
    }

    #[test]
    fn namespaces_are_trimmed_and_deduplicated() {
        let given = ["a".to_string(), " b ".into(), "".into(), "a".into()];
        assert_eq!(normalise(&given), ["a", "b"]);
    }
}
