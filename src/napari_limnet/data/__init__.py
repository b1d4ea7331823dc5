"""Data for training and evaluation, not training itself: the synthetic volume generator
(:mod:`.synthetic`), the real labelled training volumes (:mod:`.real_volumes`) and the bundled
sample volumes (:mod:`.samples`)."""
