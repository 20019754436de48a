"""From text pieces to the sentences a Japanese voice is given.

- ``segmenter``: markdown pieces in, ``Sentence``s out, as they stream;
- ``speakable``: a line of markdown as it is said (no markup, links, tables as rows);
- ``splitter``: where a sentence ends;
- ``readings`` (with ``glossary.tsv``): code words, acronyms, paths, versions and symbols
  turned into what a Japanese voice can say, after translation.
"""
