//! `#[derive(Pod)]` for [mmf](https://docs.rs/mmf): plain-old-data types for shared memory,
//! checked at compile time, with a layout id computed from the type's definition.
//!
//! Use it through mmf, as `#[derive(mmf::Pod)]` (mmf's `derive` feature, on by default); the
//! rules it checks and the layout id it computes are documented at `mmf::Pod`.
//!
//! The parser reads `proc_macro` tokens itself, with no dependencies: the current syn, quote and
//! proc-macro2 need a newer Rust than mmf's 1.63.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Implements `mmf::Pod` for a `#[repr(C)]` or `#[repr(transparent)]` struct whose fields are all
/// `Pod` and which has no padding; see `mmf::Pod` for the rules and the layout id.
///
/// Refused with a compile error: enums and unions, structs without `#[repr(C)]` or
/// `#[repr(transparent)]`, generic structs, structs with padding, and fields that are not `Pod`.
#[proc_macro_derive(Pod)]
pub fn derive_pod(input: TokenStream) -> TokenStream {
    match parse(input) {
        Ok(s) => expand(&s),
        Err(Refusal(span, message)) => compile_error(span, &message),
    }
}

/// A struct the derive accepts: its name and fields in declaration order.
struct Struct {
    name: Ident,
    fields: Vec<Field>,
}

struct Field {
    /// The field's name, or its index in a tuple struct.
    name: String,
    ty: TokenStream,
}

/// Why the input is refused, and where to point.
struct Refusal(Span, String);

fn refuse<T>(span: Span, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(span, message.into()))
}

fn span_of(t: Option<&TokenTree>) -> Span {
    t.map_or_else(Span::call_site, TokenTree::span)
}

fn is_punct(t: Option<&TokenTree>, c: char) -> bool {
    matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

fn parse(input: TokenStream) -> Result<Struct, Refusal> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let mut at = 0;
    let mut laid_out = false;
    while is_punct(tokens.get(at), '#') {
        match tokens.get(at + 1) {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
                laid_out |= is_repr_c_or_transparent(g);
                at += 2;
            }
            other => return refuse(span_of(other), "expected an attribute after `#`"),
        }
    }
    at = skip_visibility(&tokens, at);
    let keyword = match tokens.get(at) {
        Some(TokenTree::Ident(i)) => i.clone(),
        other => return refuse(span_of(other), "#[derive(Pod)]: expected a struct"),
    };
    match keyword.to_string().as_str() {
        "struct" => {}
        "enum" => {
            return refuse(
                keyword.span(),
                "#[derive(Pod)] works on structs only: an enum has bit patterns that are no \
                 variant, and another process can write any bytes into shared memory",
            )
        }
        "union" => {
            return refuse(
                keyword.span(),
                "#[derive(Pod)] works on structs only: a union's bytes beyond its smaller fields \
                 may be padding; implement Pod by hand (`unsafe impl`) if every field is Pod and \
                 all have one size",
            )
        }
        _ => return refuse(keyword.span(), "#[derive(Pod)]: expected a struct"),
    }
    let name = match tokens.get(at + 1) {
        Some(TokenTree::Ident(i)) => i.clone(),
        other => return refuse(span_of(other), "#[derive(Pod)]: expected the struct's name"),
    };
    if !laid_out {
        return refuse(
            name.span(),
            format!(
                "#[derive(Pod)] needs #[repr(C)] or #[repr(transparent)] on `{}`: Rust's default \
                 layout may order the fields differently in another build, and every process must \
                 agree on where each field lies",
                name
            ),
        );
    }
    let fields = match tokens.get(at + 2) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => named_fields(g)?,
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => tuple_fields(g)?,
        Some(TokenTree::Punct(p)) if p.as_char() == ';' => Vec::new(),
        Some(t @ TokenTree::Punct(p)) if p.as_char() == '<' => {
            return refuse(
                t.span(),
                format!(
                    "#[derive(Pod)] does not take generic structs: the layout of `{}` must be \
                     known to derive it; implement Pod by hand (`unsafe impl`) for each \
                     instantiation",
                    name
                ),
            )
        }
        other => {
            return refuse(
                span_of(other),
                "#[derive(Pod)]: expected the struct's fields",
            )
        }
    };
    if tokens.len() > at + 4 || (tokens.len() == at + 4 && !is_punct(tokens.get(at + 3), ';')) {
        return refuse(
            span_of(tokens.get(at + 3)),
            "#[derive(Pod)] does not take where clauses",
        );
    }
    Ok(Struct { name, fields })
}

/// Whether the attribute is `repr(...)` naming `C` or `transparent` (`repr(C, packed)` and
/// `repr(C, align(N))` included: the padding check catches what `align` adds).
fn is_repr_c_or_transparent(attr: &Group) -> bool {
    let mut inner = attr.stream().into_iter();
    match (inner.next(), inner.next()) {
        (Some(TokenTree::Ident(i)), Some(TokenTree::Group(args))) if i.to_string() == "repr" => {
            args.stream().into_iter().any(|t| match t {
                TokenTree::Ident(i) => {
                    let s = i.to_string();
                    s == "C" || s == "transparent"
                }
                _ => false,
            })
        }
        _ => false,
    }
}

/// Skips `pub`, `pub(crate)`, `pub(super)`, `pub(self)` or `pub(in path)` at `at`.
fn skip_visibility(tokens: &[TokenTree], at: usize) -> usize {
    match tokens.get(at) {
        Some(TokenTree::Ident(i)) if i.to_string() == "pub" => match tokens.get(at + 1) {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                let restricts = matches!(
                    g.stream().into_iter().next(),
                    Some(TokenTree::Ident(i))
                        if matches!(i.to_string().as_str(), "crate" | "super" | "self" | "in")
                );
                if restricts {
                    at + 2
                } else {
                    at + 1 // `pub (u8, u16)`: a public field of tuple type
                }
            }
            _ => at + 1,
        },
        _ => at,
    }
}

/// Skips outer attributes (`#[...]`, doc comments included) at `at`.
fn skip_attributes(tokens: &[TokenTree], mut at: usize) -> usize {
    while is_punct(tokens.get(at), '#') {
        at += 2;
    }
    at
}

/// Splits a field list at its top-level commas: commas inside `(..)`, `[..]` and `{..}` are inside
/// groups already; those inside `<..>` (`Offset<Node>`) are not, so angle brackets are counted
/// (the `>` of `->` excepted).
fn split_fields(list: &Group) -> Vec<Vec<TokenTree>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0usize;
    let mut after_minus = false;
    for t in list.stream() {
        let mut minus = false;
        if let TokenTree::Punct(p) = &t {
            match p.as_char() {
                '<' => depth += 1,
                '>' if !after_minus => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    out.push(Vec::new());
                    continue;
                }
                '-' => minus = p.spacing() == Spacing::Joint,
                _ => {}
            }
        }
        after_minus = minus;
        if let Some(last) = out.last_mut() {
            last.push(t);
        }
    }
    out.retain(|f| !f.is_empty());
    out
}

fn named_fields(list: &Group) -> Result<Vec<Field>, Refusal> {
    let mut fields = Vec::new();
    for tokens in split_fields(list) {
        let at = skip_visibility(&tokens, skip_attributes(&tokens, 0));
        let name = match (tokens.get(at), tokens.get(at + 1)) {
            (Some(TokenTree::Ident(name)), Some(TokenTree::Punct(colon)))
                if colon.as_char() == ':' =>
            {
                name.to_string()
            }
            (t, _) => return refuse(span_of(t), "#[derive(Pod)]: expected `name: Type`"),
        };
        let name = name.strip_prefix("r#").map_or(name.clone(), str::to_owned);
        let ty: TokenStream = tokens[at + 2..].iter().cloned().collect();
        fields.push(Field { name, ty });
    }
    Ok(fields)
}

fn tuple_fields(list: &Group) -> Result<Vec<Field>, Refusal> {
    let mut fields = Vec::new();
    for (index, tokens) in split_fields(list).into_iter().enumerate() {
        let at = skip_visibility(&tokens, skip_attributes(&tokens, 0));
        if at >= tokens.len() {
            return refuse(span_of(tokens.last()), "#[derive(Pod)]: expected a type");
        }
        let ty: TokenStream = tokens[at..].iter().cloned().collect();
        fields.push(Field {
            name: index.to_string(),
            ty,
        });
    }
    Ok(fields)
}

/// Rust source for the fixed parts of the expansion.
fn code(s: &str) -> TokenStream {
    s.parse().expect("the derive's own code parses")
}

fn string(s: &str) -> TokenStream {
    TokenTree::Literal(Literal::string(s)).into()
}

/// `::core::mem::size_of::<TY>()`
fn size_of(ty: &TokenStream) -> TokenStream {
    let mut out = code("::core::mem::size_of::<");
    out.extend(ty.clone());
    out.extend(code(">()"));
    out
}

/// The expansion: a compile-time check that the struct has no padding, and the `Pod` impl whose
/// layout id mixes the struct's name with each field's name, type's layout id and offset
/// (`mmf::__derive`). Offsets are running sums of the field sizes, which is exact for a
/// `repr(C)` struct without padding.
fn expand(s: &Struct) -> TokenStream {
    let name = s.name.to_string();
    let mut sum = code("0usize");
    for f in &s.fields {
        sum.extend(code("+"));
        sum.extend(size_of(&f.ty));
    }
    let mut check = code("const _: () = ::core::assert!");
    let mut args = size_of(&TokenTree::Ident(s.name.clone()).into());
    args.extend(code("=="));
    args.extend(sum);
    args.extend(code(","));
    args.extend(string(&format!(
        "#[derive(Pod)]: `{}` has padding bytes (its size is more than the sum of its fields' \
         sizes); make the padding a field of its own (such as `_pad: [u8; N]`) or reorder the \
         fields",
        name
    )));
    check.extend(group(Delimiter::Parenthesis, args));
    check.extend(code(";"));

    let mut id = code("let id = ::mmf::__derive::start");
    id.extend(group(Delimiter::Parenthesis, string(&name)));
    id.extend(code(";"));
    if !s.fields.is_empty() {
        id.extend(code("let offset: usize = 0;"));
    }
    for (i, f) in s.fields.iter().enumerate() {
        if i > 0 {
            id.extend(code("let offset = offset +"));
            id.extend(size_of(&s.fields[i - 1].ty));
            id.extend(code(";"));
        }
        let mut args = code("id,");
        args.extend(string(&f.name));
        args.extend(code(", <"));
        args.extend(f.ty.clone());
        args.extend(code("as ::mmf::Pod>::LAYOUT_ID, offset"));
        id.extend(code("let id = ::mmf::__derive::field"));
        id.extend(group(Delimiter::Parenthesis, args));
        id.extend(code(";"));
    }
    id.extend(code("id"));

    let mut body = code("const LAYOUT_ID: u64 =");
    body.extend(group(Delimiter::Brace, id));
    body.extend(code(";"));
    let mut out = check;
    // SAFETY (of the generated impl): repr(C) or repr(transparent) (checked by `parse`), no padding
    // (the assertion above), every field Pod (its LAYOUT_ID is used, which needs the bound).
    out.extend(code("unsafe impl ::mmf::Pod for"));
    out.extend(TokenStream::from(TokenTree::Ident(s.name.clone())));
    out.extend(group(Delimiter::Brace, body));
    out
}

fn group(delimiter: Delimiter, inner: TokenStream) -> TokenStream {
    TokenTree::Group(Group::new(delimiter, inner)).into()
}

/// `compile_error!("message")`, pointing at `span`.
fn compile_error(span: Span, message: &str) -> TokenStream {
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    let mut text = Literal::string(message);
    text.set_span(span);
    let mut args = Group::new(Delimiter::Parenthesis, TokenTree::Literal(text).into());
    args.set_span(span);
    let mut semi = Punct::new(';', Spacing::Alone);
    semi.set_span(span);
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(args),
        TokenTree::Punct(semi),
    ]
    .into_iter()
    .collect()
}
