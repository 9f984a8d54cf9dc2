//! Claims lower into the problem's graph: an identical canonical form is the same node.

use matdiff::{Problem, Style};

#[test]
fn expected_autoencoder_form_is_the_same_node() {
    let mut p = Problem::new("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)").unwrap();
    let g = p.gradients(&["W"]).unwrap().nodes[0];
    let c = p.claim("W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'").unwrap();
    assert_eq!(g, c, "{} vs {}", p.print(g, Style::Plain), p.print(c, Style::Plain));
}

#[test]
fn claim_with_unknown_name_is_an_error_in_the_claim() {
    let mut p = Problem::new("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)").unwrap();
    let e = p.claim("W*z").unwrap_err();
    assert_eq!(e.input, matdiff::Input::Claim);
    assert!(e.message.contains("`z`"), "{e}");
}

#[test]
fn claim_with_identity_unifies_dimensions() {
    let mut p = Problem::new("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)").unwrap();
    let c = p.claim("W*(W'*W - I)*x*x'*(W'*W - I) + W*x*x'*(W'*W - I)").unwrap();
    assert_eq!(p.shape_names(c), vec!["m", "n"]);
}
