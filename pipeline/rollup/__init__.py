"""A prefecture over its counties (docs/rollup.md): aggregate bundles out of a county, and the
prefecture's rollup run over them."""
