//! Limits on what one GraphQL document may ask, enforced before any recursive work on it and
//! at a cost linear in its bytes. One schema extension applies them to every request, over HTTP
//! and over WebSocket alike:
//!
//! 1. a scan of the raw text bounds the nesting of `{ [ (` (outside strings and comments), so the
//!    parser and everything after it recurse at most [`MAX_NESTING`] levels;
//! 2. variables are bounded the same way, without recursion;
//! 3. after parsing, the fragments are put in dependency order (cycles refused), and each one's
//!    depth and expanded size are computed once, so a fragment used a million times through a
//!    diamond costs one visit, and the library's own validation (which expands fragments at
//!    every use) only ever sees a document whose expansion is small;
//! 4. then, the expansion being small, aliases and repeated fields are counted by walking it.
//!
//! Every refusal, and every parse or validation error of the library, carries
//! `extensions.code = "VALIDATION"`.
//!
//! A document that passed, whose every value comes from the variables (`true`, `false` and
//! `null` aside) and whose text has no comment, is remembered by its text (in a [`Remembered`]
//! bounded by what the parsed documents hold, [`parsed_weight`]) and not parsed again: such a
//! text is the client's code, the same at each call, and holds nothing a person typed. A
//! document with a string, number, enum, list or object written in it may hold a secret (a
//! password, a credential's field) and is parsed at each request and forgotten with it. The
//! variables are checked every time.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::parser::Positioned;
use async_graphql::{Name, Request, Response, ServerError, ServerResult, ValidationResult, Value};
// A value as written in a document, where a variable may stand (`Value` is a variable's value).
use async_graphql_value::Value as DocumentValue;
use credledger_adapters::remembered::Remembered;
use futures::stream::BoxStream;
use futures::StreamExt as _;
use std::collections::HashMap;
use std::sync::Arc;

/// The deepest nesting of brackets (selections, arguments, lists, objects) in a document, and of
/// arrays and objects in its variables.
pub const MAX_NESTING: usize = 48;
/// The most nested fields one operation may select (the library checks it too).
pub const MAX_DEPTH: usize = 12;
/// The most nested fields of an introspection query in dev mode (the standard introspection
/// query nests type references eight levels deep).
pub const MAX_INTROSPECTION_DEPTH: usize = 24;
/// The deepest nesting of selection sets, each field's, inline fragment's and spread fragment's
/// one level below the set holding it (the library's recursion limit, which it checks by
/// recursing; a chain of fragments each spreading the next is bounded here first).
pub const MAX_SELECTION_NESTING: usize = 32;
/// The most aliased fields one document may have, counted at every use of a fragment.
pub const MAX_ALIASES: usize = 30;
/// The most fields one selection set may select under one response key, the fragments it
/// spreads merged in: the library resolves each of them (and merges the answers), so a repeat
/// costs what an alias does. Colocated fragments that each select `id` repeat it a few times
/// (the dashboard's credentials page: three).
pub const MAX_SAME_KEY: usize = 10;
/// The most selections (fields, spreads, inline fragments) a document may have once every
/// fragment is expanded at each of its uses.
pub const MAX_SELECTIONS: usize = 2_000;
/// The most directives a document may have, wherever written (operations, variables, fields,
/// spreads, inline fragments, fragment definitions), counted at every use of a fragment.
pub const MAX_DIRECTIVES: usize = 32;
/// The most root fields a mutation may have (some, like `login`, are costly by design).
pub const MAX_ROOT_MUTATIONS: usize = 5;

/// The most the remembered documents may weigh together, each as [`parsed_weight`] counts it.
const PARSED_BUDGET: u64 = 16 * 1024 * 1024;

/// The code every refused document, and every parse and validation error, carries.
const CODE: &str = "VALIDATION";

/// A refused document: a person's message, with the `VALIDATION` code.
fn refuse(message: impl Into<String>) -> ServerError {
    coded(ServerError::new(message, None))
}

/// A refused document, with where in it the reason is.
fn refuse_at(message: impl Into<String>, at: async_graphql::Pos) -> ServerError {
    coded(ServerError::new(message, Some(at)))
}

/// Gives an error the `VALIDATION` code when it has none (the library's parse, validation and
/// input coercion errors). Our resolvers' errors always carry their own code.
fn coded(mut error: ServerError) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", CODE);
    }
    error
}

fn coded_response(mut response: Response) -> Response {
    response.errors = response.errors.into_iter().map(coded).collect();
    response
}

/// Documents that passed the limits and carry no value of their own, parsed, by their text.
/// A document never changes, so each is remembered at epoch 0.
type Parsed = Remembered<String, ExecutableDocument>;

/// The extension that applies the limits; `dev` allows introspection.
pub struct Limits {
    dev: bool,
    parsed: Arc<Parsed>,
}

impl Limits {
    pub fn new(dev: bool) -> Self {
        let weigh = |text: &String, _: &ExecutableDocument| parsed_weight(text);
        Self {
            dev,
            parsed: Arc::new(Remembered::weighed(PARSED_BUDGET, weigh)),
        }
    }
}

/// What a document of this text, parsed, holds in memory at most, about: a parsed document
/// takes up to some 100 bytes for each byte of its text (2,000 one-letter fields: 93; a
/// resolve: 13), so its text's length alone would let 1 MiB of texts hold 100 MiB. The unit
/// test `a_remembered_documents_weight_is_at_least_what_it_holds` measures it.
fn parsed_weight(text: &str) -> u32 {
    let bytes = text.len().saturating_mul(128).saturating_add(1024);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension {
            dev: self.dev,
            parsed: self.parsed.clone(),
        })
    }
}

struct LimitsExtension {
    dev: bool,
    parsed: Arc<Parsed>,
}

#[async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        coded_response(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(coded_response).boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Parsed here, after the checks; the library uses this document.
        let doc = check_remembering(&request, self.dev, &self.parsed)?;
        let slot = std::any::TypeId::of::<Arc<PlainQueryFields>>();
        if let Some(fields) = request
            .data
            .get(&slot)
            .and_then(|d| d.downcast_ref::<Arc<PlainQueryFields>>())
        {
            if let Some(names) = plain_query_fields(&doc, request.operation_name.as_deref()) {
                let _ = fields.0.set(names);
            }
        }
        request.set_parsed_query(doc);
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(coded).collect())
    }
}

/// The names of the root fields of a request's operation when it is a query whose root
/// selections are all plain fields (no fragment, no directive), as the limits found them in the
/// document they passed. A request that wants them (the HTTP handler, for its memo of answers)
/// carries an `Arc` of one in its data; it stays empty when the document was refused, or is
/// not such a query, so nobody needs to parse the document again to learn them.
#[derive(Debug, Default)]
pub struct PlainQueryFields(std::sync::OnceLock<Vec<String>>);

impl PlainQueryFields {
    /// The root fields' names, if the document passed the limits and is a plain query.
    pub fn get(&self) -> Option<&[String]> {
        self.0.get().map(Vec::as_slice)
    }
}

/// The names of the root fields of the operation `name` chooses, if it is a query whose root
/// selections are all plain fields (no fragment, no directive); `None` otherwise.
fn plain_query_fields(doc: &ExecutableDocument, name: Option<&str>) -> Option<Vec<String>> {
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Single(_), Some(_)) => return None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    if op.node.ty != OperationType::Query || !op.node.directives.is_empty() {
        return None;
    }
    op.node
        .selection_set
        .node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) if f.node.directives.is_empty() => {
                Some(f.node.name.node.to_string())
            }
            _ => None,
        })
        .collect()
}

/// [`check`], with the documents that may be remembered (see the module) parsed once.
fn check_remembering(
    request: &Request,
    dev: bool,
    parsed: &Parsed,
) -> ServerResult<ExecutableDocument> {
    if let Some(doc) = parsed.get(request.query.as_str(), 0) {
        check_variables(request)?;
        return Ok(doc);
    }
    let (doc, shape) = check(request, dev)?;
    if !shape.writes_values && !request.query.contains('#') {
        parsed.insert(request.query.clone(), 0, doc.clone());
    }
    Ok(doc)
}

fn check_variables(request: &Request) -> ServerResult<()> {
    if value_nesting(&request.variables) > MAX_NESTING {
        return Err(refuse(format!(
            "the variables nest more than {MAX_NESTING} levels deep"
        )));
    }
    Ok(())
}

/// Checks a request against every limit and parses its document. Linear in the request's size;
/// recursion only on nesting already bounded by the scan.
fn check(request: &Request, dev: bool) -> ServerResult<(ExecutableDocument, Shape)> {
    if request.query.trim().is_empty() {
        return Err(refuse("the request has no `query`"));
    }
    let nesting = bracket_nesting(&request.query);
    if nesting > MAX_NESTING {
        return Err(refuse(format!(
            "the query nests brackets more than {MAX_NESTING} levels deep"
        )));
    }
    check_variables(request)?;
    let doc = async_graphql::parser::parse_query(&request.query).map_err(parse_error)?;
    let shape = Shape::of(&doc)?;
    if shape.introspection && !dev {
        return Err(refuse(
            "introspection is available in dev mode only; the schema is docs/schema.graphql",
        ));
    }
    let depth_limit = if dev && shape.introspection {
        MAX_INTROSPECTION_DEPTH
    } else {
        MAX_DEPTH
    };
    if shape.depth > depth_limit {
        return Err(refuse(format!(
            "the query is nested {} levels deep; at most {depth_limit} are allowed",
            shape.depth
        )));
    }
    if shape.nesting > MAX_SELECTION_NESTING {
        return Err(refuse(format!(
            "the query nests fields and fragments {} levels deep; at most \
             {MAX_SELECTION_NESTING} are allowed",
            shape.nesting
        )));
    }
    if shape.selections > MAX_SELECTIONS {
        return Err(refuse(format!(
            "the query selects {} fields once its fragments are expanded; at most \
             {MAX_SELECTIONS} are allowed",
            shape.selections
        )));
    }
    if shape.directives > MAX_DIRECTIVES {
        return Err(refuse(format!(
            "the query has {} directives once its fragments are expanded; at most \
             {MAX_DIRECTIVES} are allowed",
            shape.directives
        )));
    }
    // Walks the expansion, which the checks above bound.
    let repeats = aliases_and_repeats(&doc);
    if repeats.aliases > MAX_ALIASES {
        return Err(refuse(format!(
            "the query has {} aliases; at most {MAX_ALIASES} are allowed",
            repeats.aliases
        )));
    }
    if let Some((key, times)) = repeats.most_selected.filter(|(_, t)| *t > MAX_SAME_KEY) {
        return Err(refuse(format!(
            "the query selects `{key}` {times} times in one selection set (with the fragments \
             it spreads); at most {MAX_SAME_KEY} are allowed, as each is resolved again"
        )));
    }
    // GraphQL §5.2.3.1; each root field of a subscription would be a stream of its own, past
    // the count of operations one socket may have open.
    if shape.root_subscriptions > 1 {
        return Err(refuse(format!(
            "the subscription has {} root fields; a subscription has exactly one",
            shape.root_subscriptions
        )));
    }
    if shape.root_mutations > MAX_ROOT_MUTATIONS {
        return Err(refuse(format!(
            "the mutation has {} root fields; at most {MAX_ROOT_MUTATIONS} are allowed",
            shape.root_mutations
        )));
    }
    Ok((doc, shape))
}

/// A parse error as the client is told it. A syntax error names where it is and what was
/// expected there, never the text: pest's own message quotes the offending line, which may hold
/// a password or a secret the client wrote in the document.
fn parse_error(error: async_graphql::parser::Error) -> ServerError {
    let async_graphql::parser::Error::Syntax { message, start, .. } = &error else {
        // The other errors name operations and fragments, never a value.
        return coded(ServerError::from(error));
    };
    let mut said = format!(
        "syntax error at line {}, column {}",
        start.line, start.column
    );
    if let Some(expected) = expected_rules(message) {
        said.push_str(": ");
        said.push_str(expected);
    }
    refuse_at(said, *start)
}

/// What pest's message says was expected or unexpected (its last line, `= expected name or
/// variable`), when it holds only the grammar's rule names: nothing of the client's text.
fn expected_rules(message: &str) -> Option<&str> {
    let last = message.lines().last()?.trim_start();
    let rules = last.strip_prefix("= ")?;
    let names_only = rules
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b' ' | b',' | b';'));
    (names_only && (rules.starts_with("expected ") || rules.starts_with("unexpected ")))
        .then_some(rules)
}

/// The deepest nesting of `{`, `[` and `(` outside strings and comments. Unbalanced text is left
/// to the parser, which reports it.
fn bracket_nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next unescaped `"""`.
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The deepest nesting of lists and objects in the variables, found without recursion.
fn value_nesting(variables: &async_graphql::Variables) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = variables.values().map(|v| (v, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if depth > MAX_NESTING {
            break;
        }
        match value {
            Value::List(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(fields) => stack.extend(fields.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// What the limits need to know of a document, with every fragment expanded at each use.
#[derive(Debug, Default, Clone, Copy)]
struct Shape {
    /// The deepest nesting of fields.
    depth: usize,
    /// The deepest nesting of selection sets, fragments' included ([`MAX_SELECTION_NESTING`]).
    nesting: usize,
    selections: usize,
    /// Directives, wherever written ([`MAX_DIRECTIVES`]).
    directives: usize,
    /// Fields selected at the top of a selection set (for operations' root fields).
    top_fields: usize,
    root_mutations: usize,
    root_subscriptions: usize,
    introspection: bool,
    /// A value is written in the document rather than taken from the variables.
    writes_values: bool,
}

impl Shape {
    /// Fragments are summarized once each, in dependency order (Kahn's algorithm), so neither
    /// cycles nor diamonds cost more than one visit per fragment. Counts saturate.
    fn of(doc: &ExecutableDocument) -> ServerResult<Shape> {
        let names: Vec<&Name> = doc.fragments.keys().collect();
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        // For each fragment, the fragments it spreads (each once).
        let mut spreads: Vec<Vec<usize>> = Vec::with_capacity(names.len());
        for name in &names {
            let mut found = Vec::new();
            spread_names(&doc.fragments[*name].node.selection_set.node, &mut found);
            let mut targets: Vec<usize> = found
                .into_iter()
                .filter_map(|n| index.get(n).copied())
                .collect();
            targets.sort_unstable();
            targets.dedup();
            spreads.push(targets);
        }
        // Kahn's algorithm on "is spread by": a fragment is ready once everything it spreads is.
        let mut waiting: Vec<usize> = spreads.iter().map(Vec::len).collect();
        let mut spread_by: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for (from, targets) in spreads.iter().enumerate() {
            for &to in targets {
                spread_by[to].push(from);
            }
        }
        let mut ready: Vec<usize> = (0..names.len()).filter(|&i| waiting[i] == 0).collect();
        let mut summaries: Vec<Option<Shape>> = vec![None; names.len()];
        let mut done = 0;
        while let Some(i) = ready.pop() {
            let definition = &doc.fragments[names[i]].node;
            let mut summary = summarize(&definition.selection_set.node, &|n| {
                index.get(n.as_str()).and_then(|&j| summaries[j])
            });
            // Counted at each use of the fragment, as its selections are.
            summary.directives = summary
                .directives
                .saturating_add(definition.directives.len());
            summaries[i] = Some(summary);
            done += 1;
            for &parent in &spread_by[i] {
                waiting[parent] -= 1;
                if waiting[parent] == 0 {
                    ready.push(parent);
                }
            }
        }
        if done < names.len() {
            let cyclic: Vec<&str> = (0..names.len())
                .filter(|&i| summaries[i].is_none())
                .map(|i| names[i].as_str())
                .take(5)
                .collect();
            return Err(refuse(format!(
                "fragments must not spread themselves, directly or through others: {}",
                cyclic.join(", ")
            )));
        }
        let operations: Vec<_> = match &doc.operations {
            DocumentOperations::Single(op) => vec![op],
            DocumentOperations::Multiple(ops) => ops.values().collect(),
        };
        // Every fragment must be spread by an operation, directly or through other fragments
        // (GraphQL §5.5.1.4). The limits below are counted through the operations, so one that
        // is not would reach the library's validation unbounded, which walks a fragment at
        // each of its uses and compares fields pairwise.
        let mut used = vec![false; names.len()];
        let mut to_visit = Vec::new();
        for op in &operations {
            let mut found = Vec::new();
            spread_names(&op.node.selection_set.node, &mut found);
            to_visit.extend(found.into_iter().filter_map(|n| index.get(n).copied()));
        }
        while let Some(i) = to_visit.pop() {
            if !std::mem::replace(&mut used[i], true) {
                to_visit.extend(&spreads[i]);
            }
        }
        if let Some(unused) = (0..names.len()).find(|&i| !used[i]) {
            let definition = &doc.fragments[names[unused]];
            return Err(refuse_at(
                format!(
                    "the fragment `{}` is never spread; a document may define only the \
                     fragments its operations use",
                    names[unused]
                ),
                definition.pos,
            ));
        }
        let fragment = |n: &Name| index.get(n.as_str()).and_then(|&j| summaries[j]);
        let mut total = Shape::default();
        // A fragment definition's own directives are no part of its summary's `writes_values`.
        for name in &names {
            total.writes_values |= writes_values(&[], &doc.fragments[*name].node.directives);
        }
        for op in operations {
            let s = summarize(&op.node.selection_set.node, &fragment);
            total.depth = total.depth.max(s.depth);
            total.nesting = total.nesting.max(s.nesting);
            total.selections = total.selections.saturating_add(s.selections);
            total.directives = total
                .directives
                .saturating_add(s.directives)
                .saturating_add(op.node.directives.len())
                .saturating_add(
                    op.node
                        .variable_definitions
                        .iter()
                        .map(|v| v.node.directives.len())
                        .sum(),
                );
            total.introspection |= s.introspection;
            total.writes_values |= s.writes_values
                || writes_values(&[], &op.node.directives)
                || op.node.variable_definitions.iter().any(|v| {
                    writes_values(&[], &v.node.directives)
                        || v.node
                            .default_value
                            .as_ref()
                            .is_some_and(|d| !matches!(d.node, Value::Boolean(_) | Value::Null))
                });
            match op.node.ty {
                OperationType::Mutation => {
                    total.root_mutations = total.root_mutations.max(s.top_fields)
                }
                OperationType::Subscription => {
                    total.root_subscriptions = total.root_subscriptions.max(s.top_fields)
                }
                OperationType::Query => {}
            }
        }
        Ok(total)
    }
}

/// What the walk of a document's expansion finds (see [`aliases_and_repeats`]).
#[derive(Debug, Default)]
struct Repeats<'a> {
    /// Aliased fields, counted at every use of a fragment.
    aliases: usize,
    /// The response key selected most often in one selection set, and how often.
    most_selected: Option<(&'a str, usize)>,
}

/// Counts the aliases of a document's operations, and finds the response key selected most
/// often in one selection set, the fragments it spreads (and its inline fragments) merged in,
/// at every use of a fragment. The library resolves every field so selected (it merges the
/// answers afterwards), so `{ me { id } me { id } }` costs what `{ me { id } a: me { id } }`
/// does.
///
/// Visits each selection once per use of its fragment: call it on a document whose expansion
/// is bounded and whose fragments spread no cycle.
fn aliases_and_repeats(doc: &ExecutableDocument) -> Repeats<'_> {
    let mut found = Repeats::default();
    // Selection sets whose fields are resolved together, each with its fragments merged in.
    let mut sets: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    let mut merged = Vec::new();
    let mut selected: HashMap<&str, usize> = HashMap::new();
    while let Some(set) = sets.pop() {
        selected.clear();
        merged.push(set);
        while let Some(part) = merged.pop() {
            for item in &part.items {
                match &item.node {
                    Selection::Field(f) => {
                        found.aliases += usize::from(f.node.alias.is_some());
                        *selected
                            .entry(f.node.response_key().node.as_str())
                            .or_default() += 1;
                        if !f.node.selection_set.node.items.is_empty() {
                            sets.push(&f.node.selection_set.node);
                        }
                    }
                    Selection::InlineFragment(fr) => merged.push(&fr.node.selection_set.node),
                    Selection::FragmentSpread(s) => {
                        if let Some(definition) = doc.fragments.get(&s.node.fragment_name.node) {
                            merged.push(&definition.node.selection_set.node);
                        }
                    }
                }
            }
        }
        for (&key, &times) in &selected {
            if found.most_selected.is_none_or(|(_, most)| times > most) {
                found.most_selected = Some((key, times));
            }
        }
    }
    found
}

/// The names of the fragments spread anywhere in `set` (recursion bounded by the bracket scan).
fn spread_names<'a>(set: &'a SelectionSet, out: &mut Vec<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => spread_names(&f.node.selection_set.node, out),
            Selection::InlineFragment(fr) => spread_names(&fr.node.selection_set.node, out),
            Selection::FragmentSpread(s) => out.push(s.node.fragment_name.node.as_str()),
        }
    }
}

/// One selection set's shape, with the spread fragments' shapes given by `fragment` (unknown
/// fragments count as empty; validation reports them).
fn summarize(set: &SelectionSet, fragment: &dyn Fn(&Name) -> Option<Shape>) -> Shape {
    let mut shape = Shape::default();
    for item in &set.items {
        shape.selections = shape.selections.saturating_add(1);
        let inner = match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                shape.introspection |= name == "__schema" || name == "__type";
                shape.top_fields = shape.top_fields.saturating_add(1);
                shape.directives = shape.directives.saturating_add(f.node.directives.len());
                shape.writes_values |= writes_values(&f.node.arguments, &f.node.directives);
                let set = &f.node.selection_set.node;
                let mut inner = summarize(set, fragment);
                inner.depth += 1;
                inner.top_fields = 0;
                inner.nesting = if set.items.is_empty() {
                    0
                } else {
                    inner.nesting.saturating_add(1)
                };
                inner
            }
            Selection::InlineFragment(fr) => {
                shape.writes_values |= writes_values(&[], &fr.node.directives);
                shape.directives = shape.directives.saturating_add(fr.node.directives.len());
                let mut inner = summarize(&fr.node.selection_set.node, fragment);
                inner.nesting = inner.nesting.saturating_add(1);
                inner
            }
            Selection::FragmentSpread(s) => {
                shape.writes_values |= writes_values(&[], &s.node.directives);
                shape.directives = shape.directives.saturating_add(s.node.directives.len());
                let mut inner = fragment(&s.node.fragment_name.node).unwrap_or_default();
                inner.nesting = inner.nesting.saturating_add(1);
                inner
            }
        };
        shape.depth = shape.depth.max(inner.depth);
        shape.nesting = shape.nesting.max(inner.nesting);
        shape.selections = shape.selections.saturating_add(inner.selections);
        shape.directives = shape.directives.saturating_add(inner.directives);
        shape.top_fields = shape.top_fields.saturating_add(inner.top_fields);
        shape.introspection |= inner.introspection;
        shape.writes_values |= inner.writes_values;
    }
    shape
}

/// Whether any of these arguments, or of these directives' arguments, is a value written in
/// the document: anything but a variable, `true`, `false` or `null`.
fn writes_values(
    arguments: &[(Positioned<Name>, Positioned<DocumentValue>)],
    directives: &[Positioned<Directive>],
) -> bool {
    let written = |(_, value): &(Positioned<Name>, Positioned<DocumentValue>)| {
        !matches!(
            value.node,
            DocumentValue::Variable(_) | DocumentValue::Boolean(_) | DocumentValue::Null
        )
    };
    arguments.iter().any(written)
        || directives
            .iter()
            .any(|d| d.node.arguments.iter().any(written))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str) -> String {
        let err = check(&Request::new(query), false).expect_err(query);
        assert_eq!(
            err.extensions.as_ref().and_then(|e| e.get("code")),
            Some(&Value::from("VALIDATION"))
        );
        err.message
    }

    #[test]
    fn a_fragment_spreading_itself_is_refused() {
        assert!(refused("{ ...A } fragment A on Query { ...A }").contains("spread themselves"));
        assert!(
            refused("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
                .contains("spread themselves")
        );
        assert!(refused(
            "{ ...A } fragment A on Query { ... on Query { ...B } } \
             fragment B on Query { ...C } fragment C on Query { ... on Query { ...A } }"
        )
        .contains("spread themselves"));
    }

    #[test]
    fn a_syntax_error_says_where_it_is_and_never_quotes_the_document() {
        let message = refused(
            "mutation {\n  login(login: \"a\", password: \"canary-pw-123\" { user { id } }\n}",
        );
        assert!(!message.contains("canary"), "{message}");
        assert!(
            message.starts_with("syntax error at line 2, column "),
            "{message}"
        );
        assert!(message.contains("expected"), "{message}");
        assert!(!refused("{").contains('{'));
    }

    #[test]
    fn a_fragment_no_operation_spreads_is_refused() {
        assert!(refused("{ __typename } fragment F on Query { __typename }")
            .contains("`F` is never spread"));
        // Used only by another unused fragment.
        assert!(refused(
            "{ ...A } fragment A on Query { __typename } fragment B on Query { ...C } \
             fragment C on Query { __typename }"
        )
        .contains("never spread"));
        // Used by one operation of several: fine.
        assert!(check(
            &Request::new(
                "query A { ...F } query B { __typename } fragment F on Query { ...G } \
                 fragment G on Query { __typename }"
            ),
            false
        )
        .is_ok());
    }

    #[test]
    fn a_long_chain_of_fragments_is_refused() {
        let chain = |n: usize| {
            let mut query = String::from("{ ...C0 }");
            for i in 0..n {
                query.push_str(&format!(" fragment C{i} on Query {{ ...C{} }}", i + 1));
            }
            query.push_str(&format!(" fragment C{n} on Query {{ __typename }}"));
            query
        };
        assert!(check(&Request::new(chain(MAX_SELECTION_NESTING - 1)), false).is_ok());
        assert!(refused(&chain(MAX_SELECTION_NESTING))
            .contains(&format!("{} levels deep", MAX_SELECTION_NESTING + 1)));
        assert!(refused(&chain(900)).contains("901 levels deep"));
    }

    #[test]
    fn a_fragment_diamond_is_counted_without_expanding_it() {
        // 2³⁰ selections expanded, within the nesting of fragments (31 levels of 32).
        let mut query = String::from("{ ...F0 }");
        for i in 0..30 {
            query.push_str(&format!(
                " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
                n = i + 1
            ));
        }
        query.push_str(" fragment F30 on Query { __typename }");
        assert!(refused(&query).contains("selects"));
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!(
            "{{ credentials(service: {}1{}) {{ id }} }}",
            "[".repeat(2000),
            "]".repeat(2000)
        );
        assert!(refused(&deep).contains("nests brackets"));
        let brackets = "[".repeat(1 << 20);
        assert!(refused(&brackets).contains("nests brackets"));
        // Brackets inside strings and comments do not count.
        let quiet = format!(
            "{{ __typename(a: \"{b}\", c: \"\"\"{b}\"\"\") # {b}\n }}",
            b = "[".repeat(200)
        );
        assert_eq!(bracket_nesting(&quiet), 2);
    }

    #[test]
    fn a_field_selected_many_times_in_one_selection_set_is_refused() {
        let times = |n: usize| format!("{{ {} }}", "me { id } ".repeat(n));
        assert!(check(&Request::new(times(MAX_SAME_KEY)), false).is_ok());
        assert!(refused(&times(MAX_SAME_KEY + 1)).contains("selects `me` 11 times"));
        assert!(refused(&times(900)).contains("selects `me` 900 times"));
        // Through fragments, each merged into the set that spreads it.
        let fragments = (0..=MAX_SAME_KEY)
            .map(|i| format!(" fragment F{i} on Query {{ me {{ id }} }}"))
            .collect::<String>();
        let spreads = (0..=MAX_SAME_KEY)
            .map(|i| format!("...F{i} "))
            .collect::<String>();
        assert!(refused(&format!("{{ {spreads} }}{fragments}")).contains("`me` 11 times"));
        assert!(refused(&format!(
            "{{ {} }} fragment F on Query {{ me {{ id }} }}",
            "...F ".repeat(11)
        ))
        .contains("`me` 11 times"));
        // Under other fields too; an alias is a key of its own.
        assert!(refused(&format!("{{ me {{ {} }} }}", "id ".repeat(11))).contains("`id` 11 times"));
        assert!(refused(&format!("{{ {} }}", "a: me { id } ".repeat(11))).contains("`a` 11 times"));
        // A few repeats, as colocated fragments make, pass.
        for query in [
            "{ me { id } ...F } fragment F on Query { me { email } }",
            "{ me { id email } ...F ...G } fragment F on Query { me { id } } \
             fragment G on Query { me { id email } ... on Query { me { id } } }",
            "{ credentials { id } other: credentials { id name } }",
        ] {
            assert!(check(&Request::new(query), false).is_ok(), "{query}");
        }
    }

    #[test]
    fn directives_count_wherever_they_are_written() {
        let many = "@skip(if: false) ".repeat(MAX_DIRECTIVES + 1);
        for query in [
            format!("{{ ...{many} {{ __typename }} }}"),
            format!("{{ ...F{many} }} fragment F on Query {{ __typename }}"),
            format!("{{ ...F }} fragment F on Query {many} {{ __typename }}"),
            format!("query {many} {{ __typename }}"),
            format!("query($v: Int {many}) {{ __typename }}"),
            format!("{{ __typename {many} }}"),
        ] {
            assert!(refused(&query).contains("33 directives"), "{query}");
        }
        // At every use of a fragment.
        let query = format!(
            "{{ ...F ...G }} fragment F on Query {{ __typename {} }} fragment G on Query {{ ...F }}",
            "@skip(if: false) ".repeat(MAX_DIRECTIVES / 2 + 1)
        );
        assert!(refused(&query).contains("34 directives"), "{query}");
        assert!(check(
            &Request::new("query($a: Boolean!) { me @include(if: $a) { id @skip(if: $a) } }"),
            false
        )
        .is_ok());
    }

    #[test]
    fn aliases_and_root_mutations_count_through_fragments() {
        let aliases: String = (0..8).map(|i| format!("a{i}: __typename ")).collect();
        let query = format!(
            "{{ ...A ...B ...C ...D }} fragment A on Query {{ {aliases} }} \
             fragment B on Query {{ ...A }} fragment C on Query {{ ...A }} \
             fragment D on Query {{ ...A }}"
        );
        assert!(refused(&query).contains("32 aliases"));
        let logins: String = (0..6).map(|i| format!("l{i}: logout ")).collect::<String>();
        assert!(refused(&format!("mutation {{ {logins} }}")).contains("6 root fields"));
        let twice = "subscription { ...S } fragment S on Subscription { \
                     a: credentialChanged { position } b: credentialChanged { position } }";
        assert!(refused(twice).contains("2 root fields; a subscription has exactly one"));
        assert!(check(
            &Request::new("subscription { credentialChanged { position } }"),
            false
        )
        .is_ok());
    }

    #[test]
    fn deep_variables_are_refused_without_recursion() {
        let mut value = serde_json::json!(1);
        for _ in 0..60 {
            value = serde_json::json!([value]);
        }
        let request = Request::new("query($v: Int) { __typename }").variables(
            async_graphql::Variables::from_json(serde_json::json!({ "v": value })),
        );
        let err = check(&request, false).expect_err("deep variables");
        assert!(err.message.contains("variables nest"));
    }

    fn remembered(query: &str) -> bool {
        let limits = Limits::new(false);
        let request = Request::new(query);
        let first = check_remembering(&request, false, &limits.parsed).expect(query);
        match limits.parsed.get(query, 0) {
            Some(doc) => {
                // Given again, as parsed, without parsing.
                let again = check_remembering(&request, false, &limits.parsed).expect(query);
                assert_eq!(format!("{again:?}"), format!("{first:?}"));
                assert_eq!(format!("{doc:?}"), format!("{first:?}"));
                true
            }
            None => false,
        }
    }

    #[test]
    fn a_document_whose_values_all_come_from_variables_is_parsed_once() {
        assert!(remembered(
            "mutation($u: String!, $s: String!) { resolveCredential(userId: $u, service: $s) \
             { credentialId version fields } }"
        ));
        assert!(remembered(
            "query($all: Boolean = true) { me { id } ...F @include(if: $all) } \
             fragment F on Query { credentials { id name @skip(if: false) } }"
        ));
        assert!(remembered("{ dashboard { total } }"));
    }

    #[test]
    fn a_document_with_a_value_written_in_it_is_parsed_at_each_request() {
        const CANARY: &str = "canary-4f1e9c";
        for query in [
            format!("mutation {{ login(login: \"demo\", password: \"{CANARY}\") {{ user {{ id }} }} }}"),
            format!("mutation {{ testCredential(service: \"notion\", fields: {{token: \"{CANARY}\"}}) {{ ok }} }}"),
            format!("mutation {{ login(login: \"demo\", password: \"\"\"{CANARY}\"\"\") {{ user {{ id }} }} }}"),
            "mutation { testCredential(service: $s, fields: [1234]) { ok } }".to_string(),
            "{ credentials(service: 1234) { id } }".to_string(),
            "{ credentials(service: 12.5) { id } }".to_string(),
            "{ credentials(service: canary) { id } }".to_string(),
            format!("query($p: String = \"{CANARY}\") {{ me {{ id }} }}"),
            format!("{{ me {{ id @skip(if: \"{CANARY}\") }} }}"),
            format!("{{ me {{ ... @include(if: \"{CANARY}\") {{ id }} }} }}"),
            format!("{{ me {{ id }} ...F }} fragment F on Query {{ credentials(service: \"{CANARY}\") {{ id }} }}"),
            format!("{{ me {{ id }} ...F }} fragment F on Query @skip(if: \"{CANARY}\") {{ __typename }}"),
            format!("{{ me {{ id }} }} # {CANARY}"),
        ] {
            assert!(!remembered(&query), "remembered: {query}");
        }
    }

    #[test]
    fn the_variables_of_a_remembered_document_are_checked_at_each_request() {
        let limits = Limits::new(false);
        let query = "query($v: Int) { __typename }";
        check_remembering(&Request::new(query), false, &limits.parsed).expect("shallow");
        assert!(limits.parsed.get(query, 0).is_some());
        let mut value = serde_json::json!(1);
        for _ in 0..60 {
            value = serde_json::json!([value]);
        }
        let request = Request::new(query).variables(async_graphql::Variables::from_json(
            serde_json::json!({ "v": value }),
        ));
        let err = check_remembering(&request, false, &limits.parsed).expect_err("deep variables");
        assert!(err.message.contains("variables nest"));
    }

    /// Counts what this thread allocates and frees, to weigh a parsed document.
    struct Counting;
    thread_local! {
        static HELD: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    }
    fn count(change: isize) {
        let _ = HELD.try_with(|held| held.set(held.get() + change));
    }
    // SAFETY: every call goes to the system allocator unchanged; only a thread-local counter
    // (no allocation, no destructor) is moved beside it. The one `unsafe` of this crate, in its
    // unit tests' binary only (ADR 0007 says why it is not a crate's).
    #[allow(unsafe_code)]
    unsafe impl std::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            count(layout.size() as isize);
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            count(-(layout.size() as isize));
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
            count(size as isize - layout.size() as isize);
            unsafe { std::alloc::System.realloc(ptr, layout, size) }
        }
    }
    #[global_allocator]
    static COUNTING: Counting = Counting;

    #[test]
    fn a_remembered_documents_weight_is_at_least_what_it_holds() {
        let repeat = |n: usize, text: &str| text.repeat(n);
        let documents = [
            "mutation($u: String!, $s: String!) { resolveCredential(userId: $u, service: $s) \
             { credentialId version fields } }"
                .to_string(),
            "{ a }".to_string(),
            format!("{{ {} }}", repeat(1_999, "a ")),
            format!("{{ {}a{} }}", repeat(11, "a{"), repeat(11, "}")),
            format!("{{ f({}) }}", repeat(12_000, "a:$v,")),
            format!("{{ f {} }}", repeat(6_000, "@a ")),
            format!(
                "query({}) {{ f }}",
                (0..6_000).map(|i| format!("$v{i}:A ")).collect::<String>()
            ),
            format!(
                "{{ a }} {}",
                (0..1_000)
                    .map(|i| format!("fragment F{i} on Q {{ a }} "))
                    .collect::<String>()
            ),
            format!("{{ {} }} fragment F on Q {{ a }}", repeat(1_999, "...F ")),
        ];
        for text in documents {
            let doc = async_graphql::parser::parse_query(&text).expect("parses");
            let before = HELD.with(|held| held.get());
            // What the memory holds: the key and a clone of the document.
            let kept = (text.clone(), doc.clone());
            let held = HELD.with(|held| held.get()) - before;
            drop(kept);
            assert!(
                held > 0
                    && u64::try_from(held).expect("positive") <= u64::from(parsed_weight(&text)),
                "{} bytes of text hold {held} bytes, weighed {}",
                text.len(),
                parsed_weight(&text)
            );
        }
    }

    /// graphql-js's `getIntrospectionQuery()`, as GraphiQL sends it.
    pub(crate) const INTROSPECTION_QUERY: &str = "query IntrospectionQuery { __schema { \
        queryType { name } mutationType { name } subscriptionType { name } \
        types { ...FullType } directives { name description locations args { ...InputValue } } } } \
        fragment FullType on __Type { kind name description \
        fields(includeDeprecated: true) { name description args { ...InputValue } \
        type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } \
        interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description \
        isDeprecated deprecationReason } possibleTypes { ...TypeRef } } \
        fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue } \
        fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { \
        kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
        ofType { kind name } } } } } } } } }";

    #[test]
    fn the_standard_introspection_query_passes_in_dev_mode_only() {
        assert!(check(&Request::new(INTROSPECTION_QUERY), true).is_ok());
        assert!(refused(INTROSPECTION_QUERY).contains("introspection is available in dev mode"));
    }
}
