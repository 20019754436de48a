"""NLLB-200 tokenizer: SentencePiece pieces with fairseq's id layout, without transformers.

NLLB was trained with fairseq, whose dictionary puts ``<s> <pad> </s> <unk>`` at ids 0-3 and
every SentencePiece piece one id higher than SentencePiece numbers it (SentencePiece's own
``<unk>`` becomes 3); the 202 language codes follow the pieces, in fairseq's order, and
``<mask>`` comes last. We run SentencePiece directly, the way the training data was encoded,
rather than a converted ``tokenizer.json``. That differs from transformers' converted fast
tokenizer in two places, both on purpose: text ending in whitespace gets no lone trailing
``▁`` piece, and special-token strings typed in the text (``</s>``, ``eng_Latn``) stay text,
so no input can end or redirect the sequence.
"""

from __future__ import annotations

from pathlib import Path

import sentencepiece

# The languages NLLB-200 reads and writes, in the order fairseq numbered them.
_LANGUAGE_CODES = """
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn amh_Ethi apc_Arab
    arb_Arab ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn azb_Arab azj_Latn
    bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva bjn_Arab bjn_Latn bod_Tibt
    bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn ckb_Arab crh_Latn cym_Latn
    dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn est_Latn eus_Latn
    ewe_Latn fao_Latn pes_Arab fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gla_Latn
    gle_Latn glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn
    hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan kab_Latn
    kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor knc_Arab knc_Latn kaz_Cyrl kbp_Latn
    kea_Latn khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kon_Latn kor_Hang kmr_Latn lao_Laoo
    lvs_Latn lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn lua_Latn lug_Latn
    luo_Latn lus_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Latn mkd_Cyrl plt_Latn mlt_Latn
    mni_Beng khk_Cyrl mos_Latn mri_Latn zsm_Latn mya_Mymr nld_Latn nno_Latn nob_Latn npi_Deva
    nso_Latn nus_Latn nya_Latn oci_Latn gaz_Latn ory_Orya pag_Latn pan_Guru pap_Latn pol_Latn
    por_Latn prs_Arab pbt_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Beng
    scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab som_Latn sot_Latn
    spa_Latn als_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn tam_Taml
    tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi taq_Latn taq_Tfng tpi_Latn tsn_Latn
    tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn urd_Arab
    uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn yue_Hant zho_Hans
    zho_Hant zul_Latn
"""
LANGUAGE_CODES: tuple[str, ...] = tuple(_LANGUAGE_CODES.split())

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
MASK_TOKEN = "<mask>"
# SentencePiece id k is fairseq id k + 1: fairseq put <s>/<pad>/</s>/<unk> in front of the pieces.
FAIRSEQ_OFFSET = 1
WORD_MARKER = "\u2581"  # SentencePiece's "▁", standing for the space before a word


def language_code_ids(sp_size: int) -> dict[str, int]:
    """Map each language code to its id for a SentencePiece vocabulary of ``sp_size`` pieces.

    Code i sits at ``sp_size + 1 + i`` (real NLLB-200: ``eng_Latn`` 256047, ``jpn_Jpan`` 256079).
    """
    first = sp_size + FAIRSEQ_OFFSET
    return {code: first + i for i, code in enumerate(LANGUAGE_CODES)}


def check_language(code: str) -> str:
    """``code`` itself when NLLB-200 knows it; otherwise ValueError with a one-line message."""
    if code not in LANGUAGE_CODES:
        raise ValueError(f"unknown NLLB language code {code!r} (expected e.g. eng_Latn, jpn_Jpan)")
    return code


class NllbTokenizer:
    """Encode source sentences and decode generated ids in NLLB-200's full vocabulary."""

    bos_id = 0
    pad_id = 1
    eos_id = 2
    unk_id = 3

    def __init__(self, processor: sentencepiece.SentencePieceProcessor) -> None:
        """Wrap a loaded ``sentencepiece.SentencePieceProcessor``; see :meth:`from_file`."""
        self._sp = processor
        self._sp_size: int = processor.get_piece_size()
        self._lang_ids = language_code_ids(self._sp_size)
        self._lang_codes = {i: code for code, i in self._lang_ids.items()}
        self.mask_id = self._sp_size + FAIRSEQ_OFFSET + len(LANGUAGE_CODES)

    @classmethod
    def from_file(cls, path: Path | str) -> NllbTokenizer:
        """Load the SentencePiece model (``sentencepiece.bpe.model``) at ``path``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no SentencePiece model at {path}")
        return cls(sentencepiece.SentencePieceProcessor(model_file=str(path)))

    def __len__(self) -> int:
        """Size of the full vocabulary: specials, pieces, language codes and ``<mask>``."""
        return self.mask_id + 1

    def lang_id(self, code: str) -> int:
        """Id of a language code such as ``eng_Latn``; ValueError names an unknown one."""
        return self._lang_ids[check_language(code)]

    def encode(self, text: str, src_lang: str) -> list[int]:
        """Source ids for ``text``: ``[src_lang] pieces </s>``."""
        return [self.lang_id(src_lang), *self._piece_ids(text), self.eos_id]

    def encode_batch(self, texts: list[str], src_lang: str) -> list[list[int]]:
        """:meth:`encode` for several texts at once (SentencePiece encodes a batch in one call)."""
        lang = self.lang_id(src_lang)
        return [[lang, *self._to_fairseq(ids), self.eos_id] for ids in self._sp.encode(texts)]

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``, dropping specials, language codes and ``<mask>``.

        Pieces are joined and ``▁`` becomes a space; only the space that begins the first
        piece is removed, as transformers' Metaspace decoder does.
        """
        text = "".join(self.piece(i) for i in ids if not self.is_special(i))
        text = text.replace(WORD_MARKER, " ")
        return text.removeprefix(" ")

    def is_special(self, token_id: int) -> bool:
        """True for ids that stand for no text: the four specials, language codes, ``<mask>``."""
        return token_id < len(SPECIAL_TOKENS) or token_id > self._sp_size

    def piece(self, token_id: int) -> str:
        """The piece (or special token, or language code) that ``token_id`` stands for."""
        if not 0 <= token_id < len(self):
            raise ValueError(f"token id {token_id} outside the vocabulary of {len(self)}")
        if token_id < len(SPECIAL_TOKENS):
            return SPECIAL_TOKENS[token_id]
        if token_id == self.mask_id:
            return MASK_TOKEN
        if token_id in self._lang_codes:
            return self._lang_codes[token_id]
        return self._sp.id_to_piece(token_id - FAIRSEQ_OFFSET)

    def _piece_ids(self, text: str) -> list[int]:
        return self._to_fairseq(self._sp.encode(text))

    def _to_fairseq(self, sp_ids: list[int]) -> list[int]:
        # SentencePiece's <unk> is its id 0; every other piece moves up by the offset.
        unk = self.unk_id
        return [i + FAIRSEQ_OFFSET if i else unk for i in sp_ids]
