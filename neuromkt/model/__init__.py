"""The attention model: encoders, the network, training, inference, metrics, bundles.

It owns turning a table into token ids (:mod:`~neuromkt.model.encoders`), the
transformer itself (:mod:`~neuromkt.model.network`), fitting it
(:mod:`~neuromkt.model.training`), scoring with it (:mod:`~neuromkt.model.inference`),
how good it is (:mod:`~neuromkt.model.metrics`, :mod:`~neuromkt.model.evaluation`),
saving and loading it safely (:mod:`~neuromkt.model.bundle`) and the run registry.

It may import :mod:`neuromkt.data` and :mod:`neuromkt.errors`; never explanations,
actions, reports, figures or Streamlit.
"""
