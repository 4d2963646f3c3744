"""The HTTP layer: one blueprint module per area, thin over the domain packages."""
