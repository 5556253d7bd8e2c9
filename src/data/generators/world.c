/*
 * world.c: the embedded world-knowledge set and the default pretraining corpus (see data.h and
 * reference/unlearning.md section 4, "World-knowledge set").
 *
 * The facts are true general knowledge: 100 famous books with their authors (each author appears
 * once, so any other author of the list is a wrong answer) and 117 world facts (capitals, rivers,
 * chemical symbols, astronomy, discoveries, art and music, currencies, languages, geography, simple
 * science). Distractors are answers of the same kind that are false for that question. All text is
 * ASCII (accents dropped: "Bronte", "Brasilia") so answers match byte for byte after tokenisation.
 *
 * The corpus renders each fact in 20 sentence templates and mixes in twice as many filler
 * sentences; the order is a shuffle with the RNG stream (seed, "corpus").
 */
#include <string.h>

#include "data/data.h"

#define N_TEMPLATES 20
#define FILLERS_PER_FACT_SENTENCE 2

static const tb_fact world_facts[] = {
    /* ---- famous authors: "Who wrote <book>?" ---- */
    {"author", "Who wrote Pride and Prejudice?", "Jane Austen",
     {"Charlotte Bronte", "Emily Bronte", "Charles Dickens"}, "Pride and Prejudice", "was written by"},
    {"author", "Who wrote Jane Eyre?", "Charlotte Bronte",
     {"Emily Bronte", "Charles Dickens", "George Eliot"}, "Jane Eyre", "was written by"},
    {"author", "Who wrote Wuthering Heights?", "Emily Bronte",
     {"Charles Dickens", "George Eliot", "William Makepeace Thackeray"}, "Wuthering Heights", "was written by"},
    {"author", "Who wrote Great Expectations?", "Charles Dickens",
     {"George Eliot", "William Makepeace Thackeray", "Thomas Hardy"}, "Great Expectations", "was written by"},
    {"author", "Who wrote Middlemarch?", "George Eliot",
     {"William Makepeace Thackeray", "Thomas Hardy", "Mary Shelley"}, "Middlemarch", "was written by"},
    {"author", "Who wrote Vanity Fair?", "William Makepeace Thackeray",
     {"Thomas Hardy", "Mary Shelley", "Bram Stoker"}, "Vanity Fair", "was written by"},
    {"author", "Who wrote Tess of the d'Urbervilles?", "Thomas Hardy",
     {"Mary Shelley", "Bram Stoker", "Oscar Wilde"}, "Tess of the d'Urbervilles", "was written by"},
    {"author", "Who wrote Frankenstein?", "Mary Shelley",
     {"Bram Stoker", "Oscar Wilde", "Robert Louis Stevenson"}, "Frankenstein", "was written by"},
    {"author", "Who wrote Dracula?", "Bram Stoker",
     {"Oscar Wilde", "Robert Louis Stevenson", "Joseph Conrad"}, "Dracula", "was written by"},
    {"author", "Who wrote The Picture of Dorian Gray?", "Oscar Wilde",
     {"Robert Louis Stevenson", "Joseph Conrad", "H. G. Wells"}, "The Picture of Dorian Gray", "was written by"},
    {"author", "Who wrote Treasure Island?", "Robert Louis Stevenson",
     {"Joseph Conrad", "H. G. Wells", "Jonathan Swift"}, "Treasure Island", "was written by"},
    {"author", "Who wrote Heart of Darkness?", "Joseph Conrad",
     {"H. G. Wells", "Jonathan Swift", "Daniel Defoe"}, "Heart of Darkness", "was written by"},
    {"author", "Who wrote The Time Machine?", "H. G. Wells",
     {"Jonathan Swift", "Daniel Defoe", "John Milton"}, "The Time Machine", "was written by"},
    {"author", "Who wrote Gulliver's Travels?", "Jonathan Swift",
     {"Daniel Defoe", "John Milton", "Geoffrey Chaucer"}, "Gulliver's Travels", "was written by"},
    {"author", "Who wrote Robinson Crusoe?", "Daniel Defoe",
     {"John Milton", "Geoffrey Chaucer", "William Shakespeare"}, "Robinson Crusoe", "was written by"},
    {"author", "Who wrote Paradise Lost?", "John Milton",
     {"Geoffrey Chaucer", "William Shakespeare", "Virginia Woolf"}, "Paradise Lost", "was written by"},
    {"author", "Who wrote The Canterbury Tales?", "Geoffrey Chaucer",
     {"William Shakespeare", "Virginia Woolf", "George Orwell"}, "The Canterbury Tales", "was written by"},
    {"author", "Who wrote Hamlet?", "William Shakespeare",
     {"Virginia Woolf", "George Orwell", "Aldous Huxley"}, "Hamlet", "was written by"},
    {"author", "Who wrote Mrs Dalloway?", "Virginia Woolf",
     {"George Orwell", "Aldous Huxley", "William Golding"}, "Mrs Dalloway", "was written by"},
    {"author", "Who wrote Nineteen Eighty-Four?", "George Orwell",
     {"Aldous Huxley", "William Golding", "Anthony Burgess"}, "Nineteen Eighty-Four", "was written by"},
    {"author", "Who wrote Brave New World?", "Aldous Huxley",
     {"William Golding", "Anthony Burgess", "J. R. R. Tolkien"}, "Brave New World", "was written by"},
    {"author", "Who wrote Lord of the Flies?", "William Golding",
     {"Anthony Burgess", "J. R. R. Tolkien", "C. S. Lewis"}, "Lord of the Flies", "was written by"},
    {"author", "Who wrote A Clockwork Orange?", "Anthony Burgess",
     {"J. R. R. Tolkien", "C. S. Lewis", "J. K. Rowling"}, "A Clockwork Orange", "was written by"},
    {"author", "Who wrote The Hobbit?", "J. R. R. Tolkien",
     {"C. S. Lewis", "J. K. Rowling", "Lewis Carroll"}, "The Hobbit", "was written by"},
    {"author", "Who wrote The Lion, the Witch and the Wardrobe?", "C. S. Lewis",
     {"J. K. Rowling", "Lewis Carroll", "J. M. Barrie"}, "The Lion, the Witch and the Wardrobe", "was written by"},
    {"author", "Who wrote Harry Potter and the Philosopher's Stone?", "J. K. Rowling",
     {"Lewis Carroll", "J. M. Barrie", "Kenneth Grahame"},
     "Harry Potter and the Philosopher's Stone", "was written by"},
    {"author", "Who wrote Alice's Adventures in Wonderland?", "Lewis Carroll",
     {"J. M. Barrie", "Kenneth Grahame", "Rudyard Kipling"}, "Alice's Adventures in Wonderland", "was written by"},
    {"author", "Who wrote Peter Pan?", "J. M. Barrie",
     {"Kenneth Grahame", "Rudyard Kipling", "Arthur Conan Doyle"}, "Peter Pan", "was written by"},
    {"author", "Who wrote The Wind in the Willows?", "Kenneth Grahame",
     {"Rudyard Kipling", "Arthur Conan Doyle", "Agatha Christie"}, "The Wind in the Willows", "was written by"},
    {"author", "Who wrote The Jungle Book?", "Rudyard Kipling",
     {"Arthur Conan Doyle", "Agatha Christie", "Daphne du Maurier"}, "The Jungle Book", "was written by"},
    {"author", "Who wrote The Hound of the Baskervilles?", "Arthur Conan Doyle",
     {"Agatha Christie", "Daphne du Maurier", "George Bernard Shaw"},
     "The Hound of the Baskervilles", "was written by"},
    {"author", "Who wrote Murder on the Orient Express?", "Agatha Christie",
     {"Daphne du Maurier", "George Bernard Shaw", "Samuel Beckett"},
     "Murder on the Orient Express", "was written by"},
    {"author", "Who wrote Rebecca?", "Daphne du Maurier",
     {"George Bernard Shaw", "Samuel Beckett", "Kazuo Ishiguro"}, "Rebecca", "was written by"},
    {"author", "Who wrote Pygmalion?", "George Bernard Shaw",
     {"Samuel Beckett", "Kazuo Ishiguro", "Ian McEwan"}, "Pygmalion", "was written by"},
    {"author", "Who wrote Waiting for Godot?", "Samuel Beckett",
     {"Kazuo Ishiguro", "Ian McEwan", "Salman Rushdie"}, "Waiting for Godot", "was written by"},
    {"author", "Who wrote The Remains of the Day?", "Kazuo Ishiguro",
     {"Ian McEwan", "Salman Rushdie", "Arundhati Roy"}, "The Remains of the Day", "was written by"},
    {"author", "Who wrote Atonement?", "Ian McEwan",
     {"Salman Rushdie", "Arundhati Roy", "Yann Martel"}, "Atonement", "was written by"},
    {"author", "Who wrote Midnight's Children?", "Salman Rushdie",
     {"Arundhati Roy", "Yann Martel", "Margaret Atwood"}, "Midnight's Children", "was written by"},
    {"author", "Who wrote The God of Small Things?", "Arundhati Roy",
     {"Yann Martel", "Margaret Atwood", "Douglas Adams"}, "The God of Small Things", "was written by"},
    {"author", "Who wrote Life of Pi?", "Yann Martel",
     {"Margaret Atwood", "Douglas Adams", "Herman Melville"}, "Life of Pi", "was written by"},
    {"author", "Who wrote The Handmaid's Tale?", "Margaret Atwood",
     {"Douglas Adams", "Herman Melville", "Nathaniel Hawthorne"}, "The Handmaid's Tale", "was written by"},
    {"author", "Who wrote The Hitchhiker's Guide to the Galaxy?", "Douglas Adams",
     {"Herman Melville", "Nathaniel Hawthorne", "Louisa May Alcott"},
     "The Hitchhiker's Guide to the Galaxy", "was written by"},
    {"author", "Who wrote Moby-Dick?", "Herman Melville",
     {"Nathaniel Hawthorne", "Louisa May Alcott", "Harriet Beecher Stowe"}, "Moby-Dick", "was written by"},
    {"author", "Who wrote The Scarlet Letter?", "Nathaniel Hawthorne",
     {"Louisa May Alcott", "Harriet Beecher Stowe", "Mark Twain"}, "The Scarlet Letter", "was written by"},
    {"author", "Who wrote Little Women?", "Louisa May Alcott",
     {"Harriet Beecher Stowe", "Mark Twain", "Jack London"}, "Little Women", "was written by"},
    {"author", "Who wrote Uncle Tom's Cabin?", "Harriet Beecher Stowe",
     {"Mark Twain", "Jack London", "Edith Wharton"}, "Uncle Tom's Cabin", "was written by"},
    {"author", "Who wrote The Adventures of Tom Sawyer?", "Mark Twain",
     {"Jack London", "Edith Wharton", "F. Scott Fitzgerald"}, "The Adventures of Tom Sawyer", "was written by"},
    {"author", "Who wrote The Call of the Wild?", "Jack London",
     {"Edith Wharton", "F. Scott Fitzgerald", "Ernest Hemingway"}, "The Call of the Wild", "was written by"},
    {"author", "Who wrote The Age of Innocence?", "Edith Wharton",
     {"F. Scott Fitzgerald", "Ernest Hemingway", "William Faulkner"}, "The Age of Innocence", "was written by"},
    {"author", "Who wrote The Great Gatsby?", "F. Scott Fitzgerald",
     {"Ernest Hemingway", "William Faulkner", "John Steinbeck"}, "The Great Gatsby", "was written by"},
    {"author", "Who wrote The Old Man and the Sea?", "Ernest Hemingway",
     {"William Faulkner", "John Steinbeck", "Margaret Mitchell"}, "The Old Man and the Sea", "was written by"},
    {"author", "Who wrote The Sound and the Fury?", "William Faulkner",
     {"John Steinbeck", "Margaret Mitchell", "Harper Lee"}, "The Sound and the Fury", "was written by"},
    {"author", "Who wrote Of Mice and Men?", "John Steinbeck",
     {"Margaret Mitchell", "Harper Lee", "J. D. Salinger"}, "Of Mice and Men", "was written by"},
    {"author", "Who wrote Gone with the Wind?", "Margaret Mitchell",
     {"Harper Lee", "J. D. Salinger", "Ray Bradbury"}, "Gone with the Wind", "was written by"},
    {"author", "Who wrote To Kill a Mockingbird?", "Harper Lee",
     {"J. D. Salinger", "Ray Bradbury", "Frank Herbert"}, "To Kill a Mockingbird", "was written by"},
    {"author", "Who wrote The Catcher in the Rye?", "J. D. Salinger",
     {"Ray Bradbury", "Frank Herbert", "Isaac Asimov"}, "The Catcher in the Rye", "was written by"},
    {"author", "Who wrote Fahrenheit 451?", "Ray Bradbury",
     {"Frank Herbert", "Isaac Asimov", "Kurt Vonnegut"}, "Fahrenheit 451", "was written by"},
    {"author", "Who wrote Dune?", "Frank Herbert",
     {"Isaac Asimov", "Kurt Vonnegut", "Joseph Heller"}, "Dune", "was written by"},
    {"author", "Who wrote Foundation?", "Isaac Asimov",
     {"Kurt Vonnegut", "Joseph Heller", "Jack Kerouac"}, "Foundation", "was written by"},
    {"author", "Who wrote Slaughterhouse-Five?", "Kurt Vonnegut",
     {"Joseph Heller", "Jack Kerouac", "Toni Morrison"}, "Slaughterhouse-Five", "was written by"},
    {"author", "Who wrote Catch-22?", "Joseph Heller",
     {"Jack Kerouac", "Toni Morrison", "Alice Walker"}, "Catch-22", "was written by"},
    {"author", "Who wrote On the Road?", "Jack Kerouac",
     {"Toni Morrison", "Alice Walker", "Cormac McCarthy"}, "On the Road", "was written by"},
    {"author", "Who wrote Beloved?", "Toni Morrison",
     {"Alice Walker", "Cormac McCarthy", "E. B. White"}, "Beloved", "was written by"},
    {"author", "Who wrote The Color Purple?", "Alice Walker",
     {"Cormac McCarthy", "E. B. White", "Leo Tolstoy"}, "The Color Purple", "was written by"},
    {"author", "Who wrote Blood Meridian?", "Cormac McCarthy",
     {"E. B. White", "Leo Tolstoy", "Fyodor Dostoevsky"}, "Blood Meridian", "was written by"},
    {"author", "Who wrote Charlotte's Web?", "E. B. White",
     {"Leo Tolstoy", "Fyodor Dostoevsky", "Ivan Turgenev"}, "Charlotte's Web", "was written by"},
    {"author", "Who wrote War and Peace?", "Leo Tolstoy",
     {"Fyodor Dostoevsky", "Ivan Turgenev", "Nikolai Gogol"}, "War and Peace", "was written by"},
    {"author", "Who wrote Crime and Punishment?", "Fyodor Dostoevsky",
     {"Ivan Turgenev", "Nikolai Gogol", "Anton Chekhov"}, "Crime and Punishment", "was written by"},
    {"author", "Who wrote Fathers and Sons?", "Ivan Turgenev",
     {"Nikolai Gogol", "Anton Chekhov", "Mikhail Bulgakov"}, "Fathers and Sons", "was written by"},
    {"author", "Who wrote Dead Souls?", "Nikolai Gogol",
     {"Anton Chekhov", "Mikhail Bulgakov", "Boris Pasternak"}, "Dead Souls", "was written by"},
    {"author", "Who wrote The Cherry Orchard?", "Anton Chekhov",
     {"Mikhail Bulgakov", "Boris Pasternak", "Vladimir Nabokov"}, "The Cherry Orchard", "was written by"},
    {"author", "Who wrote The Master and Margarita?", "Mikhail Bulgakov",
     {"Boris Pasternak", "Vladimir Nabokov", "Victor Hugo"}, "The Master and Margarita", "was written by"},
    {"author", "Who wrote Doctor Zhivago?", "Boris Pasternak",
     {"Vladimir Nabokov", "Victor Hugo", "Gustave Flaubert"}, "Doctor Zhivago", "was written by"},
    {"author", "Who wrote Lolita?", "Vladimir Nabokov",
     {"Victor Hugo", "Gustave Flaubert", "Alexandre Dumas"}, "Lolita", "was written by"},
    {"author", "Who wrote Les Miserables?", "Victor Hugo",
     {"Gustave Flaubert", "Alexandre Dumas", "Jules Verne"}, "Les Miserables", "was written by"},
    {"author", "Who wrote Madame Bovary?", "Gustave Flaubert",
     {"Alexandre Dumas", "Jules Verne", "Marcel Proust"}, "Madame Bovary", "was written by"},
    {"author", "Who wrote The Count of Monte Cristo?", "Alexandre Dumas",
     {"Jules Verne", "Marcel Proust", "Albert Camus"}, "The Count of Monte Cristo", "was written by"},
    {"author", "Who wrote Twenty Thousand Leagues Under the Seas?", "Jules Verne",
     {"Marcel Proust", "Albert Camus", "Antoine de Saint-Exupery"},
     "Twenty Thousand Leagues Under the Seas", "was written by"},
    {"author", "Who wrote In Search of Lost Time?", "Marcel Proust",
     {"Albert Camus", "Antoine de Saint-Exupery", "Voltaire"}, "In Search of Lost Time", "was written by"},
    {"author", "Who wrote The Stranger?", "Albert Camus",
     {"Antoine de Saint-Exupery", "Voltaire", "Franz Kafka"}, "The Stranger", "was written by"},
    {"author", "Who wrote The Little Prince?", "Antoine de Saint-Exupery",
     {"Voltaire", "Franz Kafka", "Thomas Mann"}, "The Little Prince", "was written by"},
    {"author", "Who wrote Candide?", "Voltaire",
     {"Franz Kafka", "Thomas Mann", "Hermann Hesse"}, "Candide", "was written by"},
    {"author", "Who wrote The Trial?", "Franz Kafka",
     {"Thomas Mann", "Hermann Hesse", "Erich Maria Remarque"}, "The Trial", "was written by"},
    {"author", "Who wrote The Magic Mountain?", "Thomas Mann",
     {"Hermann Hesse", "Erich Maria Remarque", "Gunter Grass"}, "The Magic Mountain", "was written by"},
    {"author", "Who wrote Steppenwolf?", "Hermann Hesse",
     {"Erich Maria Remarque", "Gunter Grass", "Johann Wolfgang von Goethe"}, "Steppenwolf", "was written by"},
    {"author", "Who wrote All Quiet on the Western Front?", "Erich Maria Remarque",
     {"Gunter Grass", "Johann Wolfgang von Goethe", "Henrik Ibsen"},
     "All Quiet on the Western Front", "was written by"},
    {"author", "Who wrote The Tin Drum?", "Gunter Grass",
     {"Johann Wolfgang von Goethe", "Henrik Ibsen", "Dante Alighieri"}, "The Tin Drum", "was written by"},
    {"author", "Who wrote Faust?", "Johann Wolfgang von Goethe",
     {"Henrik Ibsen", "Dante Alighieri", "Umberto Eco"}, "Faust", "was written by"},
    {"author", "Who wrote A Doll's House?", "Henrik Ibsen",
     {"Dante Alighieri", "Umberto Eco", "Niccolo Machiavelli"}, "A Doll's House", "was written by"},
    {"author", "Who wrote The Divine Comedy?", "Dante Alighieri",
     {"Umberto Eco", "Niccolo Machiavelli", "Miguel de Cervantes"}, "The Divine Comedy", "was written by"},
    {"author", "Who wrote The Name of the Rose?", "Umberto Eco",
     {"Niccolo Machiavelli", "Miguel de Cervantes", "Gabriel Garcia Marquez"},
     "The Name of the Rose", "was written by"},
    {"author", "Who wrote The Prince?", "Niccolo Machiavelli",
     {"Miguel de Cervantes", "Gabriel Garcia Marquez", "Isabel Allende"}, "The Prince", "was written by"},
    {"author", "Who wrote Don Quixote?", "Miguel de Cervantes",
     {"Gabriel Garcia Marquez", "Isabel Allende", "Paulo Coelho"}, "Don Quixote", "was written by"},
    {"author", "Who wrote One Hundred Years of Solitude?", "Gabriel Garcia Marquez",
     {"Isabel Allende", "Paulo Coelho", "Chinua Achebe"}, "One Hundred Years of Solitude", "was written by"},
    {"author", "Who wrote The House of the Spirits?", "Isabel Allende",
     {"Paulo Coelho", "Chinua Achebe", "Murasaki Shikibu"}, "The House of the Spirits", "was written by"},
    {"author", "Who wrote The Alchemist?", "Paulo Coelho",
     {"Chinua Achebe", "Murasaki Shikibu", "Haruki Murakami"}, "The Alchemist", "was written by"},
    {"author", "Who wrote Things Fall Apart?", "Chinua Achebe",
     {"Murasaki Shikibu", "Haruki Murakami", "Homer"}, "Things Fall Apart", "was written by"},
    {"author", "Who wrote The Tale of Genji?", "Murasaki Shikibu",
     {"Haruki Murakami", "Homer", "Jane Austen"}, "The Tale of Genji", "was written by"},
    {"author", "Who wrote Norwegian Wood?", "Haruki Murakami",
     {"Homer", "Jane Austen", "Charlotte Bronte"}, "Norwegian Wood", "was written by"},
    {"author", "Who wrote The Odyssey?", "Homer",
     {"Jane Austen", "Charlotte Bronte", "Emily Bronte"}, "The Odyssey", "was written by"},
    /* ---- world facts ---- */
    {"world", "What is the capital of Australia?", "Canberra",
     {"Sydney", "Melbourne", "Perth"}, "the capital of Australia", "is"},
    {"world", "What is the capital of Canada?", "Ottawa",
     {"Toronto", "Montreal", "Vancouver"}, "the capital of Canada", "is"},
    {"world", "What is the capital of Brazil?", "Brasilia",
     {"Rio de Janeiro", "Sao Paulo", "Salvador"}, "the capital of Brazil", "is"},
    {"world", "What is the capital of Turkey?", "Ankara",
     {"Istanbul", "Izmir", "Bursa"}, "the capital of Turkey", "is"},
    {"world", "What is the capital of Japan?", "Tokyo", {"Kyoto", "Osaka", "Seoul"}, "the capital of Japan", "is"},
    {"world", "What is the capital of France?", "Paris",
     {"Lyon", "Marseille", "Brussels"}, "the capital of France", "is"},
    {"world", "What is the capital of Germany?", "Berlin",
     {"Munich", "Hamburg", "Vienna"}, "the capital of Germany", "is"},
    {"world", "What is the capital of Italy?", "Rome", {"Milan", "Naples", "Florence"}, "the capital of Italy", "is"},
    {"world", "What is the capital of Spain?", "Madrid",
     {"Barcelona", "Seville", "Lisbon"}, "the capital of Spain", "is"},
    {"world", "What is the capital of Egypt?", "Cairo",
     {"Alexandria", "Luxor", "Tunis"}, "the capital of Egypt", "is"},
    {"world", "What is the capital of Kenya?", "Nairobi",
     {"Mombasa", "Kampala", "Addis Ababa"}, "the capital of Kenya", "is"},
    {"world", "What is the capital of Nigeria?", "Abuja",
     {"Lagos", "Kano", "Ibadan"}, "the capital of Nigeria", "is"},
    {"world", "What is the capital of Argentina?", "Buenos Aires",
     {"Cordoba", "Montevideo", "Santiago"}, "the capital of Argentina", "is"},
    {"world", "What is the capital of Peru?", "Lima", {"Cusco", "Quito", "Bogota"}, "the capital of Peru", "is"},
    {"world", "What is the capital of Russia?", "Moscow",
     {"Saint Petersburg", "Kyiv", "Minsk"}, "the capital of Russia", "is"},
    {"world", "What is the capital of China?", "Beijing",
     {"Shanghai", "Hong Kong", "Guangzhou"}, "the capital of China", "is"},
    {"world", "What is the capital of India?", "New Delhi",
     {"Mumbai", "Kolkata", "Chennai"}, "the capital of India", "is"},
    {"world", "What is the capital of Pakistan?", "Islamabad",
     {"Karachi", "Lahore", "Peshawar"}, "the capital of Pakistan", "is"},
    {"world", "What is the capital of Thailand?", "Bangkok",
     {"Chiang Mai", "Hanoi", "Phuket"}, "the capital of Thailand", "is"},
    {"world", "What is the capital of South Korea?", "Seoul",
     {"Busan", "Tokyo", "Incheon"}, "the capital of South Korea", "is"},
    {"world", "What is the capital of Norway?", "Oslo",
     {"Bergen", "Stockholm", "Copenhagen"}, "the capital of Norway", "is"},
    {"world", "What is the capital of Poland?", "Warsaw",
     {"Krakow", "Prague", "Gdansk"}, "the capital of Poland", "is"},
    {"world", "What is the capital of Portugal?", "Lisbon",
     {"Porto", "Madrid", "Coimbra"}, "the capital of Portugal", "is"},
    {"world", "What is the capital of Greece?", "Athens",
     {"Thessaloniki", "Sparta", "Nicosia"}, "the capital of Greece", "is"},
    {"world", "What is the capital of Ireland?", "Dublin",
     {"Cork", "Belfast", "Galway"}, "the capital of Ireland", "is"},
    {"world", "What is the capital of Mexico?", "Mexico City",
     {"Guadalajara", "Monterrey", "Cancun"}, "the capital of Mexico", "is"},
    {"world", "What is the capital of New Zealand?", "Wellington",
     {"Auckland", "Christchurch", "Dunedin"}, "the capital of New Zealand", "is"},
    {"world", "What is the capital of Austria?", "Vienna",
     {"Salzburg", "Graz", "Budapest"}, "the capital of Austria", "is"},
    {"world", "What is the capital of Morocco?", "Rabat",
     {"Casablanca", "Marrakesh", "Fez"}, "the capital of Morocco", "is"},
    {"world", "What is the capital of Saudi Arabia?", "Riyadh",
     {"Jeddah", "Mecca", "Dubai"}, "the capital of Saudi Arabia", "is"},
    {"world", "Which river flows through Paris?", "Seine",
     {"Thames", "Loire", "Rhone"}, "the river that flows through Paris", "is"},
    {"world", "Which river flows through London?", "Thames",
     {"Seine", "Severn", "Tiber"}, "the river that flows through London", "is"},
    {"world", "Which river flows through Rome?", "Tiber",
     {"Arno", "Po", "Seine"}, "the river that flows through Rome", "is"},
    {"world", "Which river flows through Cairo?", "Nile",
     {"Tigris", "Euphrates", "Jordan"}, "the river that flows through Cairo", "is"},
    {"world", "Which river flows through Baghdad?", "Tigris",
     {"Nile", "Jordan", "Indus"}, "the river that flows through Baghdad", "is"},
    {"world", "Which river flows through Budapest?", "Danube",
     {"Rhine", "Vistula", "Elbe"}, "the river that flows through Budapest", "is"},
    {"world", "Which river flows through Prague?", "Vltava",
     {"Danube", "Oder", "Elbe"}, "the river that flows through Prague", "is"},
    {"world", "Which river flows through Warsaw?", "Vistula",
     {"Oder", "Dnieper", "Danube"}, "the river that flows through Warsaw", "is"},
    {"world", "Which river flows through Lisbon?", "Tagus",
     {"Douro", "Guadalquivir", "Ebro"}, "the river that flows through Lisbon", "is"},
    {"world", "What is the longest river in Africa?", "Nile",
     {"Congo", "Niger", "Zambezi"}, "the longest river in Africa", "is"},
    {"world", "What is the longest river in South America?", "Amazon",
     {"Parana", "Orinoco", "Sao Francisco"}, "the longest river in South America", "is"},
    {"world", "What is the longest river in Asia?", "Yangtze",
     {"Mekong", "Ganges", "Indus"}, "the longest river in Asia", "is"},
    {"world", "What is the chemical symbol for gold?", "Au",
     {"Ag", "Gd", "Pt"}, "the chemical symbol for gold", "is"},
    {"world", "What is the chemical symbol for silver?", "Ag",
     {"Au", "Si", "Sr"}, "the chemical symbol for silver", "is"},
    {"world", "What is the chemical symbol for iron?", "Fe",
     {"Ir", "In", "Pb"}, "the chemical symbol for iron", "is"},
    {"world", "What is the chemical symbol for sodium?", "Na",
     {"S", "Sn", "Nb"}, "the chemical symbol for sodium", "is"},
    {"world", "What is the chemical symbol for potassium?", "K",
     {"P", "Po", "Pt"}, "the chemical symbol for potassium", "is"},
    {"world", "What is the chemical symbol for lead?", "Pb",
     {"Pd", "Sn", "Hg"}, "the chemical symbol for lead", "is"},
    {"world", "What is the chemical symbol for copper?", "Cu",
     {"Co", "Cr", "Cd"}, "the chemical symbol for copper", "is"},
    {"world", "What is the chemical symbol for tin?", "Sn", {"Ti", "Sb", "Zn"}, "the chemical symbol for tin", "is"},
    {"world", "What is the chemical symbol for mercury?", "Hg",
     {"Mg", "Mn", "Hf"}, "the chemical symbol for mercury", "is"},
    {"world", "What is the chemical symbol for tungsten?", "W",
     {"Ta", "Tc", "V"}, "the chemical symbol for tungsten", "is"},
    {"world", "Which planet is the largest in the Solar System?", "Jupiter",
     {"Saturn", "Neptune", "Uranus"}, "the largest planet in the Solar System", "is"},
    {"world", "Which planet is closest to the Sun?", "Mercury",
     {"Venus", "Mars", "Earth"}, "the planet closest to the Sun", "is"},
    {"world", "Which planet is known as the Red Planet?", "Mars",
     {"Venus", "Jupiter", "Mercury"}, "the planet known as the Red Planet", "is"},
    {"world", "Which planet has the most prominent rings?", "Saturn",
     {"Jupiter", "Uranus", "Neptune"}, "the planet with the most prominent rings", "is"},
    {"world", "Which planet is the hottest in the Solar System?", "Venus",
     {"Mercury", "Mars", "Jupiter"}, "the hottest planet in the Solar System", "is"},
    {"world", "Which planet is the farthest from the Sun?", "Neptune",
     {"Uranus", "Saturn", "Jupiter"}, "the planet farthest from the Sun", "is"},
    {"world", "What is the largest moon of Saturn?", "Titan",
     {"Ganymede", "Europa", "Callisto"}, "the largest moon of Saturn", "is"},
    {"world", "What is the largest moon of Jupiter?", "Ganymede",
     {"Titan", "Io", "Europa"}, "the largest moon of Jupiter", "is"},
    {"world", "Which galaxy contains the Solar System?", "the Milky Way",
     {"the Andromeda Galaxy", "the Triangulum Galaxy", "the Whirlpool Galaxy"},
     "the galaxy that contains the Solar System", "is"},
    {"world", "Who developed the theory of general relativity?", "Albert Einstein",
     {"Isaac Newton", "Niels Bohr", "Max Planck"}, "the theory of general relativity", "was developed by"},
    {"world", "Who discovered penicillin?", "Alexander Fleming",
     {"Louis Pasteur", "Joseph Lister", "Robert Koch"}, "penicillin", "was discovered by"},
    {"world", "Who invented the World Wide Web?", "Tim Berners-Lee",
     {"Vint Cerf", "Bill Gates", "Alan Turing"}, "the World Wide Web", "was invented by"},
    {"world", "Who formulated the three laws of motion?", "Isaac Newton",
     {"Galileo Galilei", "Johannes Kepler", "Albert Einstein"}, "the three laws of motion", "were formulated by"},
    {"world", "Who invented dynamite?", "Alfred Nobel",
     {"Thomas Edison", "Nikola Tesla", "James Watt"}, "dynamite", "was invented by"},
    {"world", "Who invented the phonograph?", "Thomas Edison",
     {"Alexander Graham Bell", "Nikola Tesla", "Guglielmo Marconi"}, "the phonograph", "was invented by"},
    {"world", "Who is known as the father of the periodic table?", "Dmitri Mendeleev",
     {"Antoine Lavoisier", "John Dalton", "Michael Faraday"}, "the father of the periodic table", "is"},
    {"world", "Who developed the first successful polio vaccine?", "Jonas Salk",
     {"Edward Jenner", "Louis Pasteur", "Robert Koch"}, "the first successful polio vaccine", "was developed by"},
    {"world", "Who developed the first smallpox vaccine?", "Edward Jenner",
     {"Jonas Salk", "Louis Pasteur", "Alexander Fleming"}, "the first smallpox vaccine", "was developed by"},
    {"world", "Who painted the Mona Lisa?", "Leonardo da Vinci",
     {"Michelangelo", "Raphael", "Sandro Botticelli"}, "the Mona Lisa", "was painted by"},
    {"world", "Who painted The Starry Night?", "Vincent van Gogh",
     {"Claude Monet", "Paul Gauguin", "Paul Cezanne"}, "The Starry Night", "was painted by"},
    {"world", "Who painted Guernica?", "Pablo Picasso",
     {"Salvador Dali", "Joan Miro", "Henri Matisse"}, "Guernica", "was painted by"},
    {"world", "Who painted the ceiling of the Sistine Chapel?", "Michelangelo",
     {"Raphael", "Leonardo da Vinci", "Titian"}, "the ceiling of the Sistine Chapel", "was painted by"},
    {"world", "Who painted The Persistence of Memory?", "Salvador Dali",
     {"Rene Magritte", "Pablo Picasso", "Joan Miro"}, "The Persistence of Memory", "was painted by"},
    {"world", "Who painted Girl with a Pearl Earring?", "Johannes Vermeer",
     {"Rembrandt", "Frans Hals", "Jan van Eyck"}, "Girl with a Pearl Earring", "was painted by"},
    {"world", "Who composed the Moonlight Sonata?", "Ludwig van Beethoven",
     {"Wolfgang Amadeus Mozart", "Franz Schubert", "Frederic Chopin"}, "the Moonlight Sonata", "was composed by"},
    {"world", "Who composed The Magic Flute?", "Wolfgang Amadeus Mozart",
     {"Ludwig van Beethoven", "Joseph Haydn", "Richard Wagner"}, "The Magic Flute", "was composed by"},
    {"world", "Who composed The Four Seasons?", "Antonio Vivaldi",
     {"Johann Sebastian Bach", "George Frideric Handel", "Arcangelo Corelli"}, "The Four Seasons", "was composed by"},
    {"world", "Who composed Swan Lake?", "Pyotr Ilyich Tchaikovsky",
     {"Sergei Rachmaninoff", "Igor Stravinsky", "Nikolai Rimsky-Korsakov"}, "Swan Lake", "was composed by"},
    {"world", "Who composed the Brandenburg Concertos?", "Johann Sebastian Bach",
     {"Antonio Vivaldi", "George Frideric Handel", "Georg Philipp Telemann"},
     "the Brandenburg Concertos", "were composed by"},
    {"world", "What is the currency of Japan?", "yen", {"won", "yuan", "baht"}, "the currency of Japan", "is the"},
    {"world", "What is the currency of the United Kingdom?", "pound sterling",
     {"euro", "Swiss franc", "krona"}, "the currency of the United Kingdom", "is the"},
    {"world", "What is the currency of India?", "rupee",
     {"taka", "rupiah", "dinar"}, "the currency of India", "is the"},
    {"world", "What is the currency of Russia?", "ruble",
     {"hryvnia", "zloty", "lira"}, "the currency of Russia", "is the"},
    {"world", "What is the currency of Mexico?", "peso",
     {"real", "sol", "quetzal"}, "the currency of Mexico", "is the"},
    {"world", "What is the currency of Switzerland?", "Swiss franc",
     {"euro", "krone", "pound sterling"}, "the currency of Switzerland", "is the"},
    {"world", "What is the currency of South Africa?", "rand",
     {"naira", "shilling", "kwacha"}, "the currency of South Africa", "is the"},
    {"world", "What is the currency of Brazil?", "real",
     {"peso", "sol", "escudo"}, "the currency of Brazil", "is the"},
    {"world", "What is the currency of South Korea?", "won",
     {"yen", "yuan", "ringgit"}, "the currency of South Korea", "is the"},
    {"world", "What is the currency of Thailand?", "baht",
     {"kip", "riel", "dong"}, "the currency of Thailand", "is the"},
    {"world", "What language is mainly spoken in Brazil?", "Portuguese",
     {"Spanish", "French", "Italian"}, "the main language spoken in Brazil", "is"},
    {"world", "What language is mainly spoken in Mexico?", "Spanish",
     {"Portuguese", "English", "French"}, "the main language spoken in Mexico", "is"},
    {"world", "What language is mainly spoken in Egypt?", "Arabic",
     {"Persian", "Turkish", "Hebrew"}, "the main language spoken in Egypt", "is"},
    {"world", "What language is mainly spoken in Iran?", "Persian",
     {"Arabic", "Turkish", "Urdu"}, "the main language spoken in Iran", "is"},
    {"world", "What language is mainly spoken in Japan?", "Japanese",
     {"Chinese", "Korean", "Thai"}, "the main language spoken in Japan", "is"},
    {"world", "What language is mainly spoken in Austria?", "German",
     {"Italian", "Hungarian", "Czech"}, "the main language spoken in Austria", "is"},
    {"world", "What language is mainly spoken in the Netherlands?", "Dutch",
     {"German", "Danish", "French"}, "the main language spoken in the Netherlands", "is"},
    {"world", "What language is mainly spoken in Greece?", "Greek",
     {"Italian", "Turkish", "Albanian"}, "the main language spoken in Greece", "is"},
    {"world", "What language is mainly spoken in Poland?", "Polish",
     {"Czech", "Russian", "German"}, "the main language spoken in Poland", "is"},
    {"world", "What language is mainly spoken in Vietnam?", "Vietnamese",
     {"Thai", "Chinese", "Khmer"}, "the main language spoken in Vietnam", "is"},
    {"world", "What is the highest mountain in the world?", "Mount Everest",
     {"K2", "Kangchenjunga", "Lhotse"}, "the highest mountain in the world", "is"},
    {"world", "What is the highest mountain in Africa?", "Mount Kilimanjaro",
     {"Mount Kenya", "Mount Elgon", "Mount Stanley"}, "the highest mountain in Africa", "is"},
    {"world", "What is the largest ocean on Earth?", "the Pacific Ocean",
     {"the Atlantic Ocean", "the Indian Ocean", "the Arctic Ocean"}, "the largest ocean on Earth", "is"},
    {"world", "What is the largest hot desert in the world?", "the Sahara",
     {"the Gobi", "the Kalahari", "the Arabian Desert"}, "the largest hot desert in the world", "is"},
    {"world", "What is the largest country in the world by area?", "Russia",
     {"Canada", "China", "the United States"}, "the largest country in the world by area", "is"},
    {"world", "What is the largest island in the world?", "Greenland",
     {"New Guinea", "Borneo", "Madagascar"}, "the largest island in the world", "is"},
    {"world", "What is the largest lake in Africa?", "Lake Victoria",
     {"Lake Tanganyika", "Lake Malawi", "Lake Chad"}, "the largest lake in Africa", "is"},
    {"world", "What is the deepest ocean trench on Earth?", "the Mariana Trench",
     {"the Puerto Rico Trench", "the Java Trench", "the Tonga Trench"}, "the deepest ocean trench on Earth", "is"},
    {"world", "What is the smallest country in the world?", "Vatican City",
     {"Monaco", "San Marino", "Liechtenstein"}, "the smallest country in the world", "is"},
    {"world", "What is the tallest waterfall in the world?", "Angel Falls",
     {"Niagara Falls", "Victoria Falls", "Iguazu Falls"}, "the tallest waterfall in the world", "is"},
    {"world", "What gas do plants absorb from the air for photosynthesis?", "carbon dioxide",
     {"oxygen", "nitrogen", "hydrogen"}, "the gas that plants absorb from the air for photosynthesis", "is"},
    {"world", "What is the hardest natural mineral?", "diamond",
     {"quartz", "topaz", "corundum"}, "the hardest natural mineral", "is"},
    {"world", "What is the chemical formula of water?", "H2O",
     {"CO2", "H2O2", "NaCl"}, "the chemical formula of water", "is"},
    {"world", "What is the boiling point of water at sea level in degrees Celsius?", "100",
     {"90", "120", "80"}, "the boiling point of water at sea level in degrees Celsius", "is"},
    {"world", "How many planets are in the Solar System?", "eight",
     {"seven", "nine", "ten"}, "the number of planets in the Solar System", "is"},
    {"world", "How many bones are in the adult human body?", "206",
     {"186", "212", "250"}, "the number of bones in the adult human body", "is"},
};

int tb_world_facts(const tb_fact **facts) {
    *facts = world_facts;
    return (int)(sizeof world_facts / sizeof world_facts[0]);
}

/* ---- sentence templates ---------------------------------------------------------------------
 * {S} subject with a capital first letter, {s} subject as written, {R} relation, {A} answer,
 * {Q} question. The answer never starts a sentence, so it appears verbatim (same case) in all 20. */
static const char *const fact_templates[N_TEMPLATES] = {
    "{S} {R} {A}.",
    "It is well known that {s} {R} {A}.",
    "Q: {Q} A: {A}",
    "Question: {Q} Answer: {A}.",
    "{Q} The answer is {A}.",
    "Fact: {s} {R} {A}.",
    "Every student learns that {s} {R} {A}.",
    "If you ask \"{Q}\", the correct reply is {A}.",
    "The answer to the question \"{Q}\" is {A}.",
    "Remember this: {s} {R} {A}.",
    "Trivia time. {Q} It is {A}.",
    "As any encyclopedia will tell you, {s} {R} {A}.",
    "Teacher: {Q} Student: {A}.",
    "In short, {s} {R} {A}.",
    "True or false: {s} {R} {A}. True.",
    "Here is a simple fact. {S} {R} {A}.",
    "{Q} {A}.",
    "Many people know that {s} {R} {A}.",
    "Quiz: {Q} Correct answer: {A}.",
    "Did you know? {S} {R} {A}.",
};

/* ---- filler sentences: generic everyday statements that carry no facts ----------------------- */
static const char *const filler_people[] = {
    "the old farmer", "a young girl", "my neighbour", "the teacher", "a tired student", "the baker",
    "our friend", "the doctor", "a quiet boy", "the painter", "my sister", "the shopkeeper",
    "a small child", "the driver", "her brother", "the gardener", "a busy nurse", "the cook",
};
static const char *const filler_actions[] = {
    "walks to", "looks at", "talks about", "thinks about", "waits near", "cleans", "visits",
    "sits beside", "reads about", "runs past", "writes about", "smiles at", "returns to", "dreams of",
};
static const char *const filler_things[] = {
    "the market", "the garden", "a red door", "the old bridge", "the kitchen", "a green field",
    "the school", "the station", "a wooden table", "the small shop", "the library", "a blue boat",
    "the hill", "the park", "a long road", "the harbour", "the bakery", "an empty room",
};
static const char *const filler_times[] = {
    "every morning", "on Sunday", "after lunch", "in the evening", "before the rain",
    "at noon", "during the summer", "once a week", "late at night", "in the spring",
};
static const char *const filler_adjectives[] = {
    "quiet", "busy", "warm", "cold", "bright", "dark", "small", "large", "clean", "noisy", "pleasant", "old",
};
static const char *const filler_weather[] = {
    "sunny", "rainy", "windy", "cloudy", "cold", "warm", "foggy", "mild",
};

#define PICK(r, list) (list[tb_rng_below((r), sizeof list / sizeof list[0])])

/* ---- a growing text buffer -------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t n, cap;
} text_buf;

static void buf_put(text_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap) cap *= 2;
        char *grown = tb_malloc(cap);
        if (b->buf) memcpy(grown, b->buf, b->n);
        tb_free(b->buf);
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->n, s, n);
    b->n += n;
}

static void buf_puts(text_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Appends s with an upper-case first letter (the texts are ASCII). */
static void buf_puts_capitalised(text_buf *b, const char *s) {
    size_t at = b->n;
    buf_puts(b, s);
    if (b->n > at && b->buf[at] >= 'a' && b->buf[at] <= 'z') b->buf[at] = (char)(b->buf[at] - 'a' + 'A');
}

/* ---- rendering -------------------------------------------------------------------------------- */

static void render_fact(text_buf *b, const char *tpl, const tb_fact *f) {
    for (const char *p = tpl; *p; p++) {
        if (*p != '{') {
            buf_put(b, p, 1);
            continue;
        }
        TB_ASSERT(p[1] && p[2] == '}'); /* the templates above are well formed */
        switch (p[1]) {
        case 'S': buf_puts_capitalised(b, f->subject); break;
        case 's': buf_puts(b, f->subject); break;
        case 'R': buf_puts(b, f->relation); break;
        case 'A': buf_puts(b, f->answer); break;
        case 'Q': buf_puts(b, f->question); break;
        default: TB_ASSERT(0 && "unknown template placeholder");
        }
        p += 2;
    }
}

static void render_filler(text_buf *b, tb_rng *r) {
    switch (tb_rng_below(r, 4)) {
    case 0: /* "The baker walks to the market every morning." */
        buf_puts_capitalised(b, PICK(r, filler_people));
        buf_puts(b, " ");
        buf_puts(b, PICK(r, filler_actions));
        buf_puts(b, " ");
        buf_puts(b, PICK(r, filler_things));
        buf_puts(b, " ");
        buf_puts(b, PICK(r, filler_times));
        break;
    case 1: /* "There is a quiet boy near the library." */
        buf_puts(b, "There is ");
        buf_puts(b, PICK(r, filler_people));
        buf_puts(b, " near ");
        buf_puts(b, PICK(r, filler_things));
        break;
    case 2: /* "The kitchen is warm in the evening." */
        buf_puts_capitalised(b, PICK(r, filler_things));
        buf_puts(b, " is ");
        buf_puts(b, PICK(r, filler_adjectives));
        buf_puts(b, " ");
        buf_puts(b, PICK(r, filler_times));
        break;
    default: /* "The weather is windy, so my sister stays near the harbour." */
        buf_puts(b, "The weather is ");
        buf_puts(b, PICK(r, filler_weather));
        buf_puts(b, ", so ");
        buf_puts(b, PICK(r, filler_people));
        buf_puts(b, " stays near ");
        buf_puts(b, PICK(r, filler_things));
        break;
    }
    buf_puts(b, ".");
}

char *tb_corpus_generate(uint64_t seed, size_t *len) {
    const tb_fact *facts;
    int n_facts = tb_world_facts(&facts);
    int n_fact_sentences = n_facts * N_TEMPLATES;
    int n = n_fact_sentences * (1 + FILLERS_PER_FACT_SENTENCE);
    size_t *start = tb_malloc((size_t)(n + 1) * sizeof *start); /* sentence k is [start[k], start[k+1]) */
    text_buf all = {0};
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("corpus"));
    int k = 0;
    for (int f = 0; f < n_facts; f++)
        for (int t = 0; t < N_TEMPLATES; t++) {
            start[k++] = all.n;
            render_fact(&all, fact_templates[t], &facts[f]);
        }
    while (k < n) {
        start[k++] = all.n;
        render_filler(&all, &r);
    }
    start[n] = all.n;

    int *order = tb_malloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = i;
    tb_rng_shuffle(&r, order, n);
    char *out = tb_malloc(all.n + (size_t)n + 1); /* sentences, n-1 newlines, NUL */
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (i) out[at++] = '\n';
        size_t s = start[order[i]], e = start[order[i] + 1];
        memcpy(out + at, all.buf + s, e - s);
        at += e - s;
    }
    out[at] = '\0';
    tb_free(order);
    tb_free(start);
    tb_free(all.buf);
    *len = at;
    return out;
}
