/** Letters NFKD does not decompose into ASCII, and whole alphabets (Cyrillic, Greek) mapped to Latin. */
const TRANSLITERATION: Record<string, string> = {
  ß: "ss",
  æ: "ae",
  œ: "oe",
  ø: "o",
  đ: "d",
  ð: "d",
  þ: "th",
  ł: "l",
  ı: "i",
  ħ: "h",
  ŋ: "ng",
  а: "a",
  б: "b",
  в: "v",
  г: "g",
  д: "d",
  е: "e",
  ё: "e",
  ж: "zh",
  з: "z",
  и: "i",
  й: "y",
  к: "k",
  л: "l",
  м: "m",
  н: "n",
  о: "o",
  п: "p",
  р: "r",
  с: "s",
  т: "t",
  у: "u",
  ф: "f",
  х: "kh",
  ц: "ts",
  ч: "ch",
  ш: "sh",
  щ: "shch",
  ъ: "",
  ы: "y",
  ь: "",
  э: "e",
  ю: "yu",
  я: "ya",
  є: "ye",
  і: "i",
  ї: "yi",
  ґ: "g",
  α: "a",
  β: "v",
  γ: "g",
  δ: "d",
  ε: "e",
  ζ: "z",
  η: "i",
  θ: "th",
  ι: "i",
  κ: "k",
  λ: "l",
  μ: "m",
  ν: "n",
  ξ: "x",
  ο: "o",
  π: "p",
  ρ: "r",
  σ: "s",
  ς: "s",
  τ: "t",
  υ: "y",
  φ: "f",
  χ: "ch",
  ψ: "ps",
  ω: "o",
  "&": " and ",
};

/** Longest slug kept; long titles make unwieldy URLs. */
export const MAX_SLUG_LENGTH = 80;

/** Lower-case ASCII with accents and non-Latin letters transliterated ("Grüße aus Köln" → "grusse aus koln"). */
export function transliterate(text: string): string {
  const map = (input: string) => {
    let out = "";
    for (const char of input) out += TRANSLITERATION[char] ?? char;
    return out;
  };
  // mapped before and after NFKD: "й" must map whole, but accented Greek ("ή") only after its accent is split off
  const first = map(text.toLowerCase().replace(/ου/g, "ou"));
  // NFKD splits "é" into "e" + a combining accent, which the replace removes
  return map(first.normalize("NFKD").replace(/[\u0300-\u036f]/g, ""));
}

/** A URL-safe slug: `a-z0-9` words joined by single hyphens, at most MAX_SLUG_LENGTH, cut at a word boundary. */
export function slugify(text: string): string {
  const words = transliterate(text)
    // "beginner's" → "beginners", not "beginner-s"
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, " ")
    .trim()
    .split(" ")
    .filter(Boolean);
  let slug = "";
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word;
    if (next.length > MAX_SLUG_LENGTH) break;
    slug = next;
  }
  // a single over-long word is cut rather than dropped
  return slug || (words[0] ?? "").slice(0, MAX_SLUG_LENGTH);
}

/** Normalised form used for duplicate detection: transliterated words, no punctuation, single spaces. */
export function normalizeTitle(text: string): string {
  return transliterate(text)
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}
