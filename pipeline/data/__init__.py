"""Text-line data: synthetic lines rendered on the fly, real lines from PaddleOCR label files, loaders.

Modules: `text` (what lines say), `fonts` (font pools),
`params` / `layout` / `render` (drawing one line), `synthetic` (SyntheticLineDataset), `labelled`
(load_label_file, LabelledLineDataset), `mixed` (MixedDataset), `loader` (LineBatch, make_loader) and
`preview` (write_contact_sheet), `bundle` (the data of one experiment). Its settings live in
`pipeline.config.data_sections`. May import core and config. Nothing is imported here, so importing one module stays cheap.
"""
