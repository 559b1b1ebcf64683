"""Generate the bundled sample site, migrate/sample/site.archive.jsonl, from a real Synapse.

A throwaway Synapse on 127.0.0.1 (migrate/testing/synapse.py) is seeded with "Wander & Pan", a
small travel/cooking/tech blog on Cactus Comments: 15 pages, a few hundred comments written
over five years by a dozen people, with replies nested up to six deep, edits, deleted comments
(with and without replies), emotes, images, reactions, spam, unicode and emoji, Markdown with
its HTML, comments too short for Isso, one commenter who changed their display name, and the
site's moderation room. Then the site is extracted the way a site owner would do it (pages
file, guest reader) into an archive, and the archive is made neutral: the throwaway server's
address and name become https://matrix.example.org and example.org, so the committed file
names nothing of the machine it was made on.

The content is deterministic (seeded random); event and room ids change on every run.

    python demos/make_sample_site.py                 # rewrites migrate/sample/site.archive.jsonl
    python demos/make_sample_site.py -o /tmp/s.jsonl

demos/_local_servers.py reuses `seed_site` for the smaller site of demos/end_to_end_local.sh.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import random
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from migrate.pipeline.transform import depths  # noqa: E402
from migrate.systems.archive import ArchiveSource, write_archive  # noqa: E402
from migrate.systems.matrix import MatrixCommentExtractor  # noqa: E402
from migrate.testing.synapse import SynapseServer, running_synapse  # noqa: E402
from utils.fileio import atomic_writer  # noqa: E402

SITE = "wanderpan"
DEFAULT_OUTPUT = REPO / "migrate" / "sample" / "site.archive.jsonl"
NEUTRAL_HOMESERVER = "https://matrix.example.org"
NEUTRAL_SERVER_NAME = "example.org"
SEED = 20190314

# -- who comments --------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    localpart: str
    names: tuple[tuple[str, str], ...]  # (from date YYYY-MM-DD, display name); "" = none set
    avatar: str | None = None  # media id on the homeserver

    def name_at(self, moment: datetime) -> str:
        current = self.names[0][1]
        for since, name in self.names:
            if moment >= _date(since):
                current = name
        return current


OWNER = Person("ana.ribeiro", (("2000-01-01", "Ana Ribeiro"),), "AnaRibeiroAvatar2019")
PEOPLE = [
    Person("tomasz.w", (("2000-01-01", "Tom W."), ("2022-06-01", "Tomasz Wiśniewski"))),
    Person("zoe", (("2000-01-01", "Zoë Ångström"),), "ZoeAvatarMountains"),
    Person("priya", (("2000-01-01", "Priya Natarajan"),)),
    Person("jonas.k", (("2000-01-01", "Jonas"),)),
    Person("mei", (("2000-01-01", "李梅 (Mei)"),), "MeiAvatarDumpling"),
    Person("olu", (("2000-01-01", "Olúwaseun A."),)),
    Person("soren", (("2000-01-01", "Søren 🚲"),)),
    Person("chloe.m", (("2000-01-01", "Chloé Martin"),)),
    Person("oleg", (("2000-01-01", "Олег"),)),
    Person("fatima", (("2000-01-01", "Fatima Z."),)),
    Person("breadhead", (("2000-01-01", ""),)),  # never set a name: shows as its localpart
    Person("sam.h", (("2000-01-01", "Sam"),)),
]
SPAMMER = Person("cheap-watches-4u", (("2000-01-01", "Best Watches Online"),))
MODERATOR = Person("moderator", (("2000-01-01", "Wander & Pan moderation"),))

# -- what they say -------------------------------------------------------------------------

OPENERS = [
    "",
    "",
    "",
    "",
    "Great post! ",
    "Thanks for writing this up. ",
    "Long-time reader here. ",
    "Finally someone says it. ",
    "Bookmarked. ",
    "Oh, this brings back memories. ",
    "Ha, I was just thinking about this. ",
    "Lovely write-up. ",
    "Obrigado, Ana! ",
]
CLOSERS = [
    "",
    "",
    "",
    "",
    " 🙂",
    " Thanks!",
    " Keep it up.",
    " 👍",
    " Cheers from Kraków.",
    " Looking forward to part two.",
    " 😅",
    " (Sorry for the long comment.)",
]
REPLIES = [
    "Same experience here, word for word.",
    "I'd be careful with that, it didn't work for me at all.",
    "Do you have a link for that? I'd like to read more.",
    "This. Exactly this.",
    "Interesting, I always did the opposite and never had a problem.",
    "Thanks, that's really helpful!",
    "Haha, I can picture it perfectly.",
    "Fair point, I hadn't thought of it that way.",
    "Not sure I agree, but I see where you're coming from.",
    "Which year was that? Things changed a lot since.",
    "I tried this last weekend after reading your comment: it works.",
    "Can confirm, did the same in 2021.",
    "Good tip, noted for next time.",
    "Wait, really? That's surprising.",
    "Same here! Small world.",
    "You're not alone, I had exactly the same problem.",
    "That's what I ended up doing too.",
    "Hm, mine took twice as long. Maybe it's the altitude?",
    "Seconded. It's worth the extra effort.",
    "Oh no, sorry to hear that 😬",
    "I'd love to see a photo of that!",
    "Great minds think alike 😄",
    "The comments here are better than most forums, honestly.",
    "Thank you, that clears it up.",
    "Funny, my grandmother said the same thing.",
    "Just to add: it depends a lot on the season.",
    "Agreed, although the price has gone up since.",
    "Did you ever try the other way round?",
    "Yes! And nobody believes me when I say it.",
    "Ha, I made the very same mistake.",
    "Adding this to my list, thanks.",
    "Makes sense. I'll give it another go.",
    "Spasibo, very useful.",
    "Same question here, actually.",
    "Mine too. Glad it's not just me.",
    "That's a good rule of thumb.",
    "Respectfully: no. 😄",
    "Bardzo dobre 👌",
    "I learned something today.",
    "Nice, thanks for following up!",
]
OWNER_REPLIES = [
    "Thanks so much! Glad it was useful.",
    "Good question! Short answer: yes, but give it a few more days.",
    "Ha, you're right, I should add that to the post.",
    "I've updated the post with this, thank you!",
    "Honestly I don't know, I'd love to hear if anyone has tried.",
    "That's on my list for next year 🙂",
    "Thank you for reading all the way to the end!",
    "Oh, good catch. Fixed!",
    "I hear you. I went back and forth on that myself.",
    "Yes, exactly that. And thanks for the kind words.",
    "Welcome back! Nice to see a familiar name.",
    "Obrigada! 😊",
]
DEBATE = [
    "I'm going to be that person: this is not the authentic way to do it.",
    "Authentic according to whom, though? Every family does it differently.",
    "According to the people who invented it, for a start!",
    "By that logic we'd all still be cooking over open fires 😄",
    "Some of us still do, on Sundays. It makes a difference.",
    "OK, I'll give you that one. Peace? 🤝",
]


@dataclass(frozen=True)
class PageSpec:
    section: str
    uri: str
    title: str
    published: str  # YYYY-MM-DD
    lines: tuple[str, ...]  # top-level comments on the topic
    questions: tuple[str, ...] = ()
    specials: tuple[dict[str, Any], ...] = ()  # hand-made contents (Markdown, images, emotes)
    debate: int = 0  # a back-and-forth this many levels deep
    replies: int = 14


def md(body: str, formatted: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }


def emote(body: str) -> dict[str, Any]:
    return {"msgtype": "m.emote", "body": body}


def image(name: str, media_id: str, width: int, height: int, size: int) -> dict[str, Any]:
    return {
        "msgtype": "m.image",
        "body": name,
        "url": f"mxc://localhost/{media_id}",
        "info": {"mimetype": "image/jpeg", "w": width, "h": height, "size": size},
    }


PAGES: list[PageSpec] = [
    PageSpec(
        "sourdough-starter-week-one",
        "/2019/03/sourdough-starter-week-one/",
        "Sourdough starter: week one",
        "2019-03-14",
        (
            "My starter smelled like nail polish remover on day four and I almost threw it out.",
            "Rye flour for the first three days made all the difference for me.",
            "Mine is called Clint Yeastwood and he is six years old now.",
            "The float test never worked for me, I just go by the bubbles and the smell.",
            "Tap water with chlorine killed my first two attempts, filtered water fixed it.",
            "How warm is your kitchen? Mine is 18 °C in winter and everything is so slow.",
            "I keep mine in the fridge and feed it once a week, no drama.",
            "Pineapple juice trick from the Reddit thread worked surprisingly well.",
            "Day 7 and it doubled in five hours. I'm weirdly proud. 🍞",
            "The discard crackers alone are worth the whole effort.",
        ),
        (
            "Do you feed it with the same flour you bake with?",
            "Is it normal that a grey liquid forms on top?",
        ),
        (
            md(
                "Ratio that finally worked for me: **1:5:5** (starter:flour:water) at ~24 °C.\n\n"
                "Before that I was doing 1:1:1 and it was *always* hungry.",
                "<p>Ratio that finally worked for me: <strong>1:5:5</strong> "
                "(starter:flour:water) at ~24 °C.</p><p>Before that I was doing 1:1:1 and it was "
                "<em>always</em> hungry.</p>",
            ),
        ),
    ),
    PageSpec(
        "lisbon-in-three-days",
        "/2019/06/lisbon-in-three-days/",
        "Lisbon in three days",
        "2019-06-02",
        (
            "Tram 28 at 8 in the morning, before the cruise ships arrive. Best advice ever.",
            "You skipped LX Factory! Next time, on a Sunday for the market.",
            "The pastéis de nata at Manteigaria are better than Belém, fight me.",
            "Sintra deserves a whole day, not an afternoon.",
            "We did exactly your itinerary in October and it was perfect.",
            "The hills are no joke. Bring proper shoes, not sandals like me.",
            "Obrigado pela dica do miradouro! 🇵🇹",
            "Ginjinha in a chocolate cup: dangerous.",
            "Time Out Market is fine but the small tascas are so much better.",
            "We stayed in Alfama and got lost every single evening, in a good way.",
        ),
        ("Is the Lisboa Card worth it if we only have two days?",),
        (
            image("tram-28.jpg", "Tram28MorningLisbon", 1600, 1067, 412_331),
            emote("is booking flights right now ✈️"),
        ),
    ),
    PageSpec(
        "raspberry-pi-weather-station",
        "/2019/11/raspberry-pi-weather-station/",
        "A Raspberry Pi weather station on the balcony",
        "2019-11-20",
        (
            "The BME280 reads about 2 °C too high if it's close to the Pi. Ask me how I know.",
            "Did you consider InfluxDB instead of SQLite? Grafana loves it.",
            "I 3D-printed a Stevenson screen for mine, it made the readings much saner.",
            "Pi Zero W draws way less power if you run it from a battery.",
            "My SD card died after eight months of writing every minute. Log less often!",
            "Love that you publish the data. Can I scrape it for my school project?",
            "The wind sensor is the hard part, everything else is easy.",
            "Humidity above 95% fried my first sensor. Conformal coating helps.",
            "I've been running a similar setup since 2016 and it just works.",
        ),
        ("Which library do you use for the BME280, smbus2 or the Adafruit one?",),
        (
            md(
                "This is the crontab line I use, in case it helps someone:\n\n"
                "```\n*/5 * * * * /home/pi/weather/read_bme280.py"
                " >> /var/log/weather.log 2>&1\n```",
                "<p>This is the crontab line I use, in case it helps someone:</p>"
                "<pre><code>*/5 * * * * /home/pi/weather/read_bme280.py &gt;&gt; "
                "/var/log/weather.log 2&gt;&amp;1\n</code></pre>",
            ),
        ),
    ),
    PageSpec(
        "kimchi-fridge-edition",
        "/2020/02/kimchi-fridge-edition/",
        "Kimchi, fridge edition",
        "2020-02-09",
        (
            "Gochugaru is not optional, don't use chili flakes, it's a different thing.",
            "I add a grated pear instead of sugar, my halmeoni's trick.",
            "The jar exploded in my fridge. Leave headspace, people.",
            "Fish sauce or salted shrimp? I've done both and prefer the shrimp.",
            "Vegan version with miso works great, nobody noticed.",
            "Two weeks in the fridge is the sweet spot for me.",
            "My flat smelled of garlic for a week and I regret nothing. 🧄",
            "Kimchi fried rice with the old sour stuff is the best part.",
            "Massaging the salt in with gloves, always with gloves. Learned the hard way.",
        ),
        ("How long does it keep, realistically?",),
        (emote("opens the fridge and immediately regrets it 😂"),),
    ),
    PageSpec(
        "night-train-vienna-venice",
        "/2020/09/night-train-vienna-venice/",
        "The night train from Vienna to Venice",
        "2020-09-18",
        (
            "Took the Nightjet last summer, waking up to the lagoon is magic.",
            "The couchette was fine but bring earplugs, the brakes screech at every stop.",
            "Book the window side of the compartment, trust me.",
            "Breakfast on the Nightjet is sad bread and jam. Bring your own croissants.",
            "We did Zürich → Venezia by day instead, also gorgeous through the Alps.",
            "I love that night trains are coming back. Fewer flights, more stories.",
            "The private sleeper with the shower is worth it once in your life.",
            "Venice in November, with the fog, is the best Venice.",
            "Tip: the luggage space under the bottom bunk fits a big suitcase.",
        ),
        ("Did you have any trouble with the border checks at night?",),
        (
            md(
                "Useful: [the Man in Seat 61 page](https://www.seat61.com/) has every route "
                "and the booking tricks.",
                '<p>Useful: <a href="https://www.seat61.com/">the Man in Seat 61 page</a> has '
                "every route and the booking tricks.</p>",
            ),
        ),
    ),
    PageSpec(
        "self-hosting-matrix",
        "/2021/01/self-hosting-matrix/",
        "Self-hosting Matrix for the family",
        "2021-01-23",
        (
            "Synapse on a 2 GB VPS was fine until someone joined a huge public room.",
            "Have you looked at Conduit? Much lighter for a family server.",
            "Getting my parents to verify sessions was harder than setting up the server.",
            "Postgres instead of SQLite from day one, please. Migrating later is no fun.",
            "The .well-known delegation part confused me for a whole evening.",
            "Bridges to WhatsApp are the only reason my family stayed.",
            "This is how I found Cactus Comments, which you use here! Neat.",
            "Media retention settings saved my disk, set them early.",
            "Running it on a Pi 4 for 3 people, works fine with Postgres.",
        ),
        ("How do you do backups, just pg_dump and the media folder?",),
        (
            md(
                "You can check federation with "
                "`curl https://matrix.example.net/_matrix/federation/v1/version`, and if that "
                "hangs it's the reverse proxy, not Synapse.",
                "<p>You can check federation with <code>curl "
                "https://matrix.example.net/_matrix/federation/v1/version</code>, and if that "
                "hangs it's the reverse proxy, not Synapse.</p>",
            ),
            md(
                "Backups, my version:\n\n1. `pg_dump` nightly\n2. rsync the media store\n"
                "3. the signing key, **once**, somewhere safe",
                "<ol><li><code>pg_dump</code> nightly</li><li>rsync the media store</li><li>the "
                "signing key, <strong>once</strong>, somewhere safe</li></ol>",
            ),
        ),
    ),
    PageSpec(
        "ramen-from-scratch",
        "/2021/04/ramen-from-scratch/",
        "Tonkotsu ramen from scratch (a 14-hour saga)",
        "2021-04-11",
        (
            "Fourteen hours! My neighbours would call the fire brigade.",
            "Blanching the bones first is the step everyone skips and regrets.",
            "Pressure cooker gets you 80% of the way in 3 hours, just saying.",
            "The tare is where the magic is. Don't skimp on the tare.",
            "Ajitama: 6 minutes 30, ice bath, overnight in the marinade. Perfect every time.",
            "I made this for my partner's birthday. We're still together, so it worked. 🍜",
            "美味しそう！豚骨は最高です。",  # noqa: RUF001  (Japanese punctuation, on purpose)
            "Where do you find pork trotters in a normal supermarket though?",
            "The noodles from the Asian shop are fine, don't make them by hand like I did.",
            "My kitchen looked like a crime scene afterwards but it was worth it.",
        ),
        ("Can you freeze the broth?", "What about chashu, rolled or not rolled?"),
        (
            image("bowl-no-3.jpg", "RamenBowlNumberThree", 1200, 1200, 285_114),
            md(
                "My order of operations, after three tries:\n\n"
                "1. bones in cold water, boil 10 min, **scrub**\n"
                "2. hard boil for 12 h, top up with water\n"
                "3. tare and aroma oil while waiting\n\n"
                "And *never* let it drop to a simmer.",
                "<p>My order of operations, after three tries:</p><ol><li>bones in cold water, "
                "boil 10 min, <strong>scrub</strong></li><li>hard boil for 12 h, top up with "
                "water</li><li>tare and aroma oil while waiting</li></ol><p>And <em>never</em> "
                "let it drop to a simmer.</p>",
            ),
            emote("👩‍🍳 is clearing the whole Saturday for this"),
        ),
    ),
    PageSpec(
        "west-highland-way",
        "/2021/08/west-highland-way/",
        "Hiking the West Highland Way",
        "2021-08-05",
        (
            "The midges. Nobody warns you enough about the midges.",
            "Devil's Staircase sounds scary but it's the easiest bit.",
            "We did it in 7 days with luggage transfer, zero regrets.",
            "Loch Lomond side is harder than people think, all roots and rocks.",
            "Kingshouse Hotel pint after a rainy day is the best pint of my life.",
            "Wild camping at Inversnaid with the waterfall noise, wonderful.",
            "Gaiters. Bring gaiters.",
            "I cried a bit at the end in Fort William, not going to lie.",
            "Doing it solo in May next year, any tips?",
        ),
        ("Did you book the accommodation far in advance?",),
        (emote("is ordering midge nets as we speak 🦟"),),
    ),
    PageSpec(
        "moving-off-wordpress",
        "/2022/01/moving-off-wordpress/",
        "Moving this blog off WordPress",
        "2022-01-16",
        (
            "Hugo was my choice too. Build times under a second are addictive.",
            "What about the comments though? That was my blocker.",
            "The image pipeline in Hugo took me longer than everything else.",
            "Netlify free tier has been fine for me for years.",
            "I miss the WordPress editor sometimes, Markdown on a phone is painful.",
            "Site went from 2.3 MB to 180 KB per page. Amazing.",
            "Redirects! Don't forget the old URLs or Google will.",
            "Static sites plus Cactus for comments is such a nice combo.",
            "I moved back to WordPress after a year. Sometimes boring is good.",
        ),
        ("Did you keep the old comments?",),
        (
            md(
                "> Nobody reads the comments anyway\n\nI do! Please keep them. "
                "[Isso](https://isso-comments.de/) worked well for me after the move.",
                "<blockquote><p>Nobody reads the comments anyway</p></blockquote><p>I do! Please "
                'keep them. <a href="https://isso-comments.de/">Isso</a> worked well for me after '
                "the move.</p>",
            ),
            md(
                "Checklist I wish I'd had:\n\n- export with the **WXR** tool\n- check every "
                "`<img>` path\n- set up 301s *before* switching DNS",
                "<ul><li>export with the <strong>WXR</strong> tool</li><li>check every "
                "<code>&lt;img&gt;</code> path</li><li>set up 301s <em>before</em> switching "
                "DNS</li></ul>",
            ),
        ),
    ),
    PageSpec(
        "cast-iron-care",
        "/2022/05/cast-iron-care/",
        "Cast iron care myths",
        "2022-05-03",
        (
            "My grandmother's pan is 70 years old and has never seen soap. Or so she says.",
            "Flaxseed oil seasoning flakes off, I switched to crisco and it's way better.",
            "Tomato sauce in cast iron is fine for a quick cook, just not overnight.",
            "Chainmail scrubber changed my life.",
            "Bought a 'pre-seasoned' one and re-seasoned it anyway. It was rough.",
            "The oven cleaner trick to strip old seasoning works, with gloves and patience.",
            "Enamelled cast iron is a different beast, people mix them up all the time.",
            "Heat it slowly! I cracked one on an induction hob at full power. 💔",
            "Cornbread in a cast iron skillet is the only correct cornbread.",
        ),
        ("Is it OK to put it in the dishwasher once?",),
        (
            md(
                "~~Never use soap~~ Soap is fine, it's **lye** that isn't. Modern dish soap won't "
                "strip polymerised oil.",
                "<p><del>Never use soap</del> Soap is fine, it's <strong>lye</strong> that isn't. "
                "Modern dish soap won't strip polymerised oil.</p>",
            ),
            md(
                "Same pan, rusty after one night in the sink. 😭",
                '<p>Same pan, <font color="red">rusty</font> after one night in the sink. 😭</p>',
            ),
        ),  # the colour does not survive sanitizing
    ),
    PageSpec(
        "tokyo-on-a-budget",
        "/2023/03/tokyo-on-a-budget/",
        "Tokyo on a budget 🇯🇵",
        "2023-03-21",
        (
            "Konbini breakfast every morning, egg sando forever. 🥪",
            "The Suica card on the phone made everything so easy.",
            "Business hotels are tiny but spotless and cheap.",
            "Lunch sets are half the price of dinner for the same food.",
            "We walked 25 km a day and still didn't see half of it.",
            "Don't skip the depachika food halls, free samples everywhere.",
            "Cherry blossom season doubles the hotel prices, go in November instead.",
            "Kappabashi street for kitchen knives, my wallet hasn't recovered.",
            "The quiet on the trains is something I miss every day at home.",
        ),
        ("Is the JR Pass still worth it after the price increase?",),
        (emote("is saving this for October 🍁"),),
    ),
    PageSpec(
        "mechanical-keyboard-build",
        "/2023/09/mechanical-keyboard-build/",
        "My first mechanical keyboard build",
        "2023-09-07",
        (
            "Welcome to the rabbit hole. Your wallet will never be the same.",
            "Hot-swap sockets are the best decision for a first build.",
            "Lubing switches is meditative for the first 20 and torture for the last 50.",
            "Did you go tactile or linear in the end?",
            "The sound test video is so satisfying, thock thock thock.",
            "QMK or VIA? VIA was much easier for me.",
            "I built a split keyboard last year and my wrists thank me.",
            "Stabilisers! Clip and lube them or the spacebar will rattle forever.",
            "Cherry profile caps are the comfiest, fight me.",
        ),
        ("How long did the whole build take you?",),
        (
            md(
                "My build list:\n\n- **Switches:** Gateron Yellows, lubed with 205g0\n"
                "- **Keycaps:** PBT, cherry profile\n- **Case:** the cheap aluminium one\n\n"
                "Total about €180, which is *way* more than I told my partner.",
                "<p>My build list:</p><ul><li><strong>Switches:</strong> Gateron Yellows, lubed "
                "with 205g0</li><li><strong>Keycaps:</strong> PBT, cherry profile</li><li>"
                "<strong>Case:</strong> the cheap aluminium one</li></ul><p>Total about €180, "
                "which is <em>way</em> more than I told my partner.</p>",
            ),
        ),
    ),
    PageSpec(
        "paella-valenciana",
        "/2024/01/paella-valenciana/",
        "Paella valenciana, the argument",
        "2024-01-28",
        (
            "No chorizo. Thank you for saying it so clearly.",
            "The socarrat is the whole point, listen for the crackle.",
            "Garrofó beans are hard to find outside Valencia, I use butter beans.",
            "Rabbit and chicken, and snails if you are brave. 🐌",
            "Bomba rice or nothing, arborio goes mushy.",
            "My Valencian mother-in-law approved this recipe. High praise.",
            "A proper paellera makes a big difference, the thin steel one.",
            "Cooked this over orange wood on the beach once, unforgettable.",
            "Don't stir! Once the rice is in, hands off.",
        ),
        ("Is saffron really necessary? It's so expensive here.",),
        (),
        debate=6,
    ),
    PageSpec(
        "about",
        "/about/",
        "About",
        "2019-01-01",
        (
            "Found this blog through the ramen post, stayed for everything else.",
            "Your writing is so calm, it's my Sunday morning reading.",
            "Please never add a newsletter popup. 🙏",
            "Greetings from Lagos! Love the mix of food and tech.",
            "How do you find time for all of this?",
            "شكراً على المدونة الجميلة",
            "Спасибо! Очень уютный блог.",
            "The RSS feed works perfectly, thank you for keeping RSS alive.",
        ),
        ("Will you ever write about Porto?",),
        (),
        replies=10,
    ),
    PageSpec(
        "now",
        "/now/",
        "What I'm doing now",
        "2024-04-01",
        (),
        replies=0,
    ),
]

# Too short for Isso (3 characters), and where they go.
SHORT_COMMENTS = {
    "cast-iron-care": "+1",
    "moving-off-wordpress": "ok",
    "kimchi-fridge-edition": "👍",
    "tokyo-on-a-budget": "🔥🔥",
}


# -- the plan of one page ------------------------------------------------------------------


@dataclass
class Planned:
    key: int
    person: Person
    ts: int  # ms since the epoch
    content: dict[str, Any]
    parent: int | None = None
    edit: dict[str, Any] | None = None  # m.new_content
    edit_ts: int = 0
    redact_by: Person | None = None
    reactions: list[tuple[Person, str]] = field(default_factory=list)


@dataclass
class PagePlanned:
    spec: PageSpec
    comments: list[Planned]


def _date(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _typo(text: str, rng: random.Random) -> str:
    """The text as first posted, with a typo the author fixes in an edit."""
    if " the " in text:
        return text.replace(" the ", " teh ", 1)
    words = re.findall(r"[A-Za-z]{6,}", text)
    if not words:
        return text + " " + text.split(" ")[-1]  # a doubled last word
    word = rng.choice(words)
    i = len(word) // 2
    return text.replace(word, word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :], 1)


def plan_page(spec: PageSpec, rng: random.Random) -> PagePlanned:
    """Who says what, when, in answer to whom, and what happens to it afterwards."""
    start = _date(spec.published) + timedelta(hours=rng.randint(2, 30))
    now_limit = _date("2024-05-30")
    comments: list[Planned] = []

    def when(after: datetime, scale_hours: float) -> datetime:
        moment = after + timedelta(
            hours=rng.expovariate(1 / scale_hours), seconds=rng.randint(1, 3599)
        )
        return min(moment, now_limit - timedelta(minutes=rng.randint(1, 10_000)))

    def add(
        person: Person, moment: datetime, content: dict[str, Any], parent: Planned | None = None
    ) -> Planned:
        if parent is not None and moment.timestamp() * 1000 <= parent.ts:
            moment = datetime.fromtimestamp(parent.ts / 1000, UTC) + timedelta(minutes=7)
        item = Planned(len(comments), person, _ms(moment), content, parent.key if parent else None)
        comments.append(item)
        return item

    def text(body: str) -> dict[str, Any]:
        return {"msgtype": "m.text", "body": body}

    # top level: the topic lines, over weeks (most) to years (a few late readers)
    tops: list[Planned] = []
    moment = start
    for line in rng.sample(spec.lines, len(spec.lines)):
        body = rng.choice(OPENERS) + line + rng.choice(CLOSERS)
        moment = when(moment, rng.choice([10, 30, 200, 2000]))
        tops.append(add(rng.choice(PEOPLE), moment, text(body.strip())))
    for question in spec.questions:
        asked = add(rng.choice(PEOPLE), when(start, 300), text(question))
        answer = add(
            OWNER,
            when(datetime.fromtimestamp(asked.ts / 1000, UTC), 20),
            text(rng.choice(OWNER_REPLIES)),
            asked,
        )
        tops += [asked, answer]
    for content in spec.specials:
        tops.append(add(rng.choice(PEOPLE), when(start, 400), dict(content)))
    if spec.section in SHORT_COMMENTS:
        tops.append(add(rng.choice(PEOPLE), when(start, 100), text(SHORT_COMMENTS[spec.section])))

    # replies: mostly to the top level, some to replies, owner answers now and then
    if spec.lines:
        pool = rng.sample(REPLIES, spec.replies)
        for body in pool:
            candidates = [c for c in comments if _depth(comments, c) < 4]
            weights = [3.0 if c.parent is None else 1.0 for c in candidates]
            parent = rng.choices(candidates, weights)[0]
            speaker = rng.choice([p for p in PEOPLE if p is not parent.person])
            after = datetime.fromtimestamp(parent.ts / 1000, UTC)
            add(speaker, when(after, 48), text(body), parent)
        for _ in range(2):
            parent = rng.choice([c for c in comments if c.person is not OWNER])
            after = datetime.fromtimestamp(parent.ts / 1000, UTC)
            add(OWNER, when(after, 12), text(rng.choice(OWNER_REPLIES)), parent)

    # a conversation four or more levels deep (a debate on the paella page)
    if spec.lines:
        depth = spec.debate or 4
        a, b = rng.sample(PEOPLE, 2)
        parent = rng.choice(tops[: len(spec.lines)])
        lines = (
            DEBATE
            if spec.debate
            else [
                "Genuinely curious: why do you think that is?",
                "Partly habit, partly what I grew up with, I think.",
                "Makes sense. For me it was the opposite, funnily enough.",
                "Ha, maybe we should swap kitchens for a week.",
                "Deal. You bring the snacks.",
            ]
        )
        for level in range(depth):
            after = datetime.fromtimestamp(parent.ts / 1000, UTC)
            parent = add(a if level % 2 == 0 else b, when(after, 6), text(lines[level]), parent)

    # afterlife: edits, deletions, reactions
    texts = [
        c
        for c in comments
        if c.content["msgtype"] == "m.text"
        and "format" not in c.content
        and len(c.content["body"]) >= 10
    ]
    for item in rng.sample(texts, min(len(texts), 1 + len(texts) // 12)):
        final = item.content["body"]
        if rng.random() < 0.5:
            item.content = text(_typo(final, rng))
            item.edit = text(final)
        else:
            item.edit = text(
                final
                + "\n\nEdit: "
                + rng.choice(
                    [
                        "tried it again, same result.",
                        "typo.",
                        "added the link, see below.",
                        "it's been a year and I still stand by this.",
                        "never mind, found it 🙈",
                    ]
                )
            )
        item.edit_ts = item.ts + rng.randint(60_000, 3_600_000)
    with_replies = {c.parent for c in comments if c.parent is not None}
    leaves = [
        c
        for c in comments
        if c.key not in with_replies and c.person is not OWNER and len(c.content["body"]) >= 10
    ]
    for item in rng.sample(leaves, min(len(leaves), 1 + len(leaves) // 20)):
        item.redact_by = item.person  # "I'd rather not have this online"
        item.edit = None
    for item in rng.sample(comments, min(len(comments), 3)):
        item.reactions.append((rng.choice(PEOPLE), rng.choice(["👍", "❤️", "😂", "+1"])))
    return PagePlanned(spec, comments)


def _depth(comments: Sequence[Planned], item: Planned) -> int:
    level = 0
    while item.parent is not None:
        item = comments[item.parent]
        level += 1
    return level


def add_spam(plans: list[PagePlanned], rng: random.Random) -> None:
    """Spam the moderator deleted: one comment nobody answered, one somebody did."""
    for section, answered in (("lisbon-in-three-days", False), ("tokyo-on-a-budget", True)):
        plan = next(p for p in plans if p.spec.section == section)
        first = min(c.ts for c in plan.comments)
        later = first + rng.randint(86_400_000, 10 * 86_400_000)
        spam = Planned(
            len(plan.comments),
            SPAMMER,
            later,
            {
                "msgtype": "m.text",
                "body": "Best replica watches!!! Visit cheap-watches-4u dot biz 💰💰💰",
            },
            redact_by=MODERATOR,
        )
        plan.comments.append(spam)
        if answered:
            plan.comments.append(
                Planned(
                    len(plan.comments),
                    rng.choice(PEOPLE),
                    spam.ts + 3_600_000,
                    {"msgtype": "m.text", "body": "Is this spam? Looks like spam. @Ana?"},
                    parent=spam.key,
                )
            )
    # and one commenter who deleted a comment that already had an answer
    plan = next(p for p in plans if p.spec.section == "cast-iron-care")
    parents = {c.parent for c in plan.comments if c.parent is not None}
    victim = next(
        c
        for c in plan.comments
        if c.key in parents
        and c.parent is None
        and c.person is not OWNER
        and not c.content.get("format")
    )
    victim.redact_by = victim.person
    victim.edit = None


# -- seeding -------------------------------------------------------------------------------


def _reply_content(
    content: dict[str, Any], parent_event: str, parent_sender: str, parent_body: str, room_id: str
) -> dict[str, Any]:
    """A reply as Matrix clients send it: m.in_reply_to plus the quoted fallback."""
    quoted = "\n".join(f"> {line}" for line in f"<{parent_sender}> {parent_body}".split("\n"))
    out = dict(content)
    if out["msgtype"] in ("m.text", "m.emote"):
        out["body"] = f"{quoted}\n\n{content['body']}"
        if "formatted_body" in out:
            fallback = (
                f'<mx-reply><blockquote><a href="https://matrix.to/#/{room_id}/{parent_event}">'
                f'In reply to</a> <a href="https://matrix.to/#/{parent_sender}">{parent_sender}'
                f"</a><br>{html.escape(parent_body)}</blockquote></mx-reply>"
            )
            out["formatted_body"] = fallback + content["formatted_body"]
    out["m.relates_to"] = {"m.in_reply_to": {"event_id": parent_event}}
    return out


def seed_page(server: SynapseServer, site: str, plan: PagePlanned) -> int:
    """One page's room, its comments in timeline order; returns the events sent."""
    room_id = server.create_comment_room(site, plan.spec.section)
    events: list[tuple[int, int, str, Planned]] = []  # (ts, tie, what, comment)
    for item in plan.comments:
        events.append((item.ts, 0, "message", item))
        if item.edit is not None:
            events.append((item.edit_ts, 1, "edit", item))
        for i, _ in enumerate(item.reactions):
            events.append((item.ts + 3_600_000 * (i + 1), 2, f"reaction{i}", item))
    last = max((e[0] for e in events), default=0)
    for item in plan.comments:
        if item.redact_by is not None:
            # after its replies: a deletion does not take the answers away
            events.append((last + 60_000 + item.key, 3, "redact", item))
    events.sort(key=lambda e: (e[0], e[1], e[3].key))

    sent: dict[int, str] = {}
    names: dict[str, str] = {}  # user -> display name in this room
    for ts, _, what, item in events:
        user = server.user_id(item.person.localpart)
        if what == "message":
            if user not in names:
                server.join(room_id, user)  # the join carries the global profile
                names[user] = _global_name(item.person)
            wanted = item.person.name_at(datetime.fromtimestamp(ts / 1000, UTC))
            if names[user] != wanted:
                # a name change at a known point of the timeline (the global profile
                # would reach the rooms in the background, at no particular moment)
                server.set_room_displayname(room_id, user, wanted or None)
                names[user] = wanted
            content = item.content
            if item.parent is not None:
                parent = plan.comments[item.parent]
                content = _reply_content(
                    content,
                    sent[item.parent],
                    server.user_id(parent.person.localpart),
                    parent.content["body"],
                    room_id,
                )
            sent[item.key] = server.send_message(room_id, content, user, ts)
        elif what == "edit":
            assert item.edit is not None
            body = {
                **item.edit,
                "body": "* " + item.edit["body"],
                "m.new_content": item.edit,
                "m.relates_to": {"rel_type": "m.replace", "event_id": sent[item.key]},
            }
            server.send_message(room_id, body, user, ts)
        elif what.startswith("reaction"):
            person, key = item.reactions[int(what.removeprefix("reaction"))]
            server.send_event(
                room_id,
                "m.reaction",
                {
                    "m.relates_to": {
                        "rel_type": "m.annotation",
                        "event_id": sent[item.key],
                        "key": key,
                    }
                },
                server.user_id(person.localpart),
                ts,
            )
        else:
            assert item.redact_by is not None
            by = item.redact_by
            reason = "spam" if by is MODERATOR else None
            server.redact(
                room_id,
                sent[item.key],
                reason,
                None if by is MODERATOR else server.user_id(by.localpart),
            )
    return len(events)


def _global_name(person: Person) -> str:
    return person.names[0][1]


def seed_site(server: SynapseServer, site: str, plans: Sequence[PagePlanned]) -> int:
    """Profiles, the moderation room, then every page (four rooms at a time)."""
    for person in [OWNER, *PEOPLE, SPAMMER]:
        user = server.user_id(person.localpart)
        server.ensure_user(user)
        if _global_name(person):
            server.set_displayname(user, _global_name(person))
        if person.avatar:
            server.set_avatar_url(user, f"mxc://localhost/{person.avatar}")
    moderation = server.create_comment_room(site, None)
    for body in (
        "Spam wave again on the Lisbon post, deleting as they come.",
        "Turned on the new-account filter for a week.",
    ):
        server.send_message(
            moderation, {"msgtype": "m.text", "body": body}, server.user_id(OWNER.localpart)
        )
    with ThreadPoolExecutor(max_workers=4) as pool:
        return sum(pool.map(lambda plan: seed_page(server, site, plan), plans))


def plan_site(
    pages: Sequence[PageSpec] = PAGES, seed: int = SEED, spam: bool = True
) -> list[PagePlanned]:
    rng = random.Random(seed)
    plans = [plan_page(spec, random.Random(rng.random())) for spec in pages]
    if spam:
        add_spam(plans, rng)
    return plans


def write_pages_file(path: Path, pages: Sequence[PageSpec]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section_id", "uri", "title"])
        for spec in pages:
            writer.writerow([spec.section, spec.uri, spec.title])
    return path


# -- extraction, and making it neutral -----------------------------------------------------


def neutralize(path: Path, homeserver: str, server_name: str) -> None:
    """Name example.org instead of this machine's throwaway server, everywhere in the file."""
    replacements = [(homeserver.rstrip("/"), NEUTRAL_HOMESERVER)]
    server_name_re = re.compile(rf"(?<=[:/]){re.escape(server_name)}\b")

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in replacements:
                value = value.replace(old, new)
            return server_name_re.sub(NEUTRAL_SERVER_NAME, value)
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        return value

    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    identity = records[0]["source"]["identity"]
    identity["homeserver"] = NEUTRAL_HOMESERVER
    identity["server_name"] = NEUTRAL_SERVER_NAME
    with atomic_writer(path, mode=0o644) as out:
        for record in records:
            out.write(json.dumps(rewrite(record), ensure_ascii=False) + "\n")


def extract(
    server: SynapseServer,
    site: str,
    pages_file: Path,
    output: Path,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """What a site owner would run: pages file, guest reader, archive."""
    source = MatrixCommentExtractor(
        homeserver=server.url,
        site=site,
        server_name=server.server_name,
        discover="pages_file",
        pages_file=pages_file,
        token=None,
    )
    try:
        summary = write_archive(output, source)
    finally:
        source.close()
    neutralize(output, server.url, server.server_name)
    log(
        f"extracted {summary['pages']} pages, {summary['comments']} comments, "
        f"{summary['skipped']} events skipped, {len(summary['failed'])} pages failed"
    )
    return summary


def describe(path: Path) -> list[str]:
    archive = ArchiveSource(path)
    pages = list(archive.pages())
    comments = [c for page in pages for c in archive.comments(page).comments]
    skipped = Counter(s.reason for page in pages for s in archive.comments(page).skipped)
    max_depth = max(
        (max(depths(archive.comments(p).comments).values(), default=0) for p in pages), default=0
    )
    authors = {c.author.source_id for c in comments}
    times = sorted(c.created_at for c in comments)
    return [
        f"{path} ({path.stat().st_size / 1024:.0f} KiB)",
        f"  pages:      {len(pages)}",
        f"  comments:   {len(comments)} by {len(authors)} authors, "
        f"{times[0]:%Y-%m-%d} .. {times[-1]:%Y-%m-%d}",
        f"  replies:    {sum(c.parent_id is not None for c in comments)}, "
        f"nested up to depth {max_depth}",
        f"  edited:     {sum(c.edited_at is not None for c in comments)}",
        f"  tombstones: {sum(c.deleted for c in comments)} (deleted, with replies)",
        f"  emotes:     {sum(c.text.startswith('* ') for c in comments)}",
        f"  images:     {sum(c.text.startswith('![') for c in comments)}",
        f"  with HTML:  {sum(c.html is not None for c in comments)}",
        "  skipped:    " + ", ".join(f"{n} {reason}" for reason, n in skipped.most_common()),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"archive to write (default: {DEFAULT_OUTPUT.relative_to(REPO)})",
    )
    args = parser.parse_args(argv)
    plans = plan_site()
    with running_synapse() as server, tempfile.TemporaryDirectory() as tmp:
        print(f"Synapse on {server.url}; seeding {len(plans)} pages of {SITE!r} ...")
        events = seed_site(server, SITE, plans)
        print(f"sent {events} events")
        pages_file = write_pages_file(Path(tmp) / "pages.csv", [p.spec for p in plans])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        extract(server, SITE, pages_file, args.output)
    print("\n".join(describe(args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
