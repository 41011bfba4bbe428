"""Commands and environments a formula may use without defining them.

The set is standard LaTeX2e plus amsmath (the paper's template loads nothing else), together with
every command occurring in the shared IM2LATEX-100K formulas, minus commands that define, expand
or reference things (`\\def`, `\\expandafter`, `\\label`, `\\ref`, `\\special`, picture-mode
drawing). Mined formulas using anything else rely on an author macro and are skipped; rendering
remains the final check.
"""

from __future__ import annotations

_COMMANDS = """
    AA aa above abovewithdelims acute AE ae aleph allowbreak alpha amalg angle approx arccos
    arcsin arctan arg Arrowvert arrowvert ast asymp atop atopwithdelims b backslash bar begin
    beta bf Big big bigcap bigcirc bigcup Bigg bigg Biggl biggl Biggm biggm Biggr biggr Bigl
    bigl Bigm bigm bigodot bigoplus bigotimes Bigr bigr bigskip bigsqcup bigtriangledown
    bigtriangleup biguplus bigvee bigwedge binom bmod boldmath boldsymbol bot bowtie brace
    bracevert brack breve buildrel bullet c cal cap cdot cdotp cdots cfrac check chi choose circ
    cline clubsuit colon cong coprod copyright cos cosh cot coth cr csc cup d dag dagger dashv
    dbinom ddag ddagger ddddot dddot ddot ddots deg Delta delta det dfrac diamond diamondsuit
    dim displaystyle div dot doteq dots dotsb dotsc dotsi dotsm dotso Downarrow downarrow ell em
    emph emptyset end enskip enspace ensuremath epsilon eqno equiv eta exists exp fbox flat
    footnotesize forall frac framebox frown Gamma gamma gcd ge genfrac geq gets gg grave H hat
    hbar hbox hdots heartsuit hfil hfill hline hom hookleftarrow hookrightarrow hphantom hrule
    hskip hspace Huge huge i idotsint iff iiiint iiint iint Im imath impliedby implies in inf
    infty injlim int intertext iota it j jmath k kappa ker kern L l Lambda lambda land langle
    LARGE Large large lbrace lbrack lceil ldotp ldots le left Leftarrow leftarrow leftarrowfill
    lefteqn leftharpoondown leftharpoonup Leftrightarrow leftrightarrow leq leqno lfloor lg
    lgroup lim liminf limits limsup ll llap lmoustache ln lnot log Longleftarrow longleftarrow
    Longleftrightarrow longleftrightarrow longmapsto Longrightarrow longrightarrow lor lower lq
    lVert lvert makebox mapsto mathbf mathbin mathcal mathchoice mathclose mathinner mathit
    mathnormal mathop mathopen mathord mathpunct mathrel mathring mathrm mathsf mathstrut mathtt
    max mbox medskip medspace mid middle min mit mkern mod models mp mskip mu multicolumn nabla
    natural ne nearrow neg negmedspace negthickspace negthinspace neq ni noalign nobreak
    nolimits nonumber normalfont normalsize not notag notin nu null nwarrow O o odot OE oe of
    oint Omega omega omicron ominus operatorname oplus oslash otimes over overbrace
    overleftarrow overleftrightarrow overline overrightarrow overset overwithdelims P parallel
    parbox partial perp phantom Phi phi Pi pi pm pmb pmod pod pounds Pr prec preceq prime prod
    projlim propto protect Psi psi qquad quad r raise raisebox rangle rbrace rbrack rceil Re
    relax rfloor rgroup rho right Rightarrow rightarrow rightarrowfill rightharpoondown
    rightharpoonup rightleftharpoons rlap rm rmoustache root rq rVert rvert S sb sc
    scriptscriptstyle scriptsize scriptstyle scshape searrow sec setminus sf sharp sideset Sigma
    sigma sim simeq sin sinh sl slash small smallint smallskip smash smile sp spadesuit sqcap
    sqcup sqrt sqsubseteq sqsupseteq ss stackrel star strut subset subseteq substack succ succeq
    sum sup supset supseteq surd swarrow symbol t tag tan tanh tau tbinom text textbf
    textcircled textit textmd textnormal textrm textsc textsf textsl textstyle texttt textup
    tfrac Theta theta thickspace thinspace tilde times tiny to top triangle triangleleft
    triangleright tt u unboldmath underbrace underleftarrow underleftrightarrow underline
    underrightarrow underset Uparrow uparrow Updownarrow updownarrow uplus Upsilon upsilon v
    varDelta varepsilon varGamma varinjlim varLambda varliminf varlimsup varOmega varPhi varphi
    varPi varpi varprojlim varPsi varrho varSigma varsigma varTheta vartheta varUpsilon varXi
    vbox vdash vdots vec vee Vert vert vphantom vrule vskip vspace wedge widehat widetilde wp wr
    Xi xi xleftarrow xrightarrow zeta
"""
KNOWN_COMMANDS: frozenset[str] = frozenset(_COMMANDS.split())
"""Control-word names, without the backslash; control symbols (`\\,`, `\\{`) are always allowed."""

_ENVIRONMENTS = """
    array matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix cases split aligned
    alignedat gathered subarray
"""
KNOWN_ENVIRONMENTS: frozenset[str] = frozenset(_ENVIRONMENTS.split())
"""Environments allowed inside a formula."""
